// `hookwise import wandb FILE|-`: W&B automations and integrations (the wandb SDK's JSON) to
// hookwise manifests on standard output; what did not convert on standard error, exit status 1.
import type { Command } from 'commander'
import { Document } from 'yaml'
import { HookwiseError } from '../errors.js'
import { validateObjects } from '../reconcile/validate.js'
import { parseManifest } from '../sources/manifest.js'
import { importWandb, type WandbImportOptions } from '../sources/wandb-automations.js'
import type { CommandContext } from './command.js'
import { readInput, type CliIO } from './io.js'

interface ImportOptions {
  entity?: string
  registry?: string
  project?: string
  namespace?: string
  secretName: string
}

/** JSON, or JSON Lines (one model_dump_json() per line, as a loop over api.automations() prints them). */
function parseInput(text: string, file: string): unknown {
  try {
    return JSON.parse(text)
  } catch (first) {
    const lines = text.split('\n').filter((l) => l.trim() !== '')
    try {
      return lines.map((l) => JSON.parse(l) as unknown)
    } catch {
      throw new HookwiseError('HW_IMPORT_INPUT', `${file} is not JSON or JSON Lines: ${(first as Error).message}`, {
        hint: 'give the output of model_dump_json() (one object, a list, or one per line), or a GraphQL response',
      })
    }
  }
}

export async function importWandbCommand(file: string, options: ImportOptions, io: CliIO): Promise<number> {
  const input = parseInput(await readInput(file, io), file)
  const o: WandbImportOptions = { secretName: options.secretName }
  if (options.entity) o.entity = options.entity
  if (options.registry) o.registry = options.registry
  if (options.project) o.project = options.project
  if (options.namespace) o.namespace = options.namespace
  const result = importWandb(input, o)
  const text = result.objects
    .map((obj) => {
      const doc = new Document(obj.body)
      if (obj.comments.length) doc.commentBefore = obj.comments.map((c) => ` ${c}`).join('\n')
      return doc.toString({ lineWidth: 0 })
    })
    .join('---\n')
  // What was written must load: anything hookwise refuses is reported as not converted.
  const parsed = parseManifest(text, 'imported.yaml')
  const state = validateObjects(parsed.objects, parsed.diagnostics)
  const refused = state.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.object ?? 'object'}: ${d.path ? `${d.path}: ` : ''}${d.message}`)
  if (text) io.out(text)
  const problems = [...result.notConverted, ...refused]
  const automations = result.objects.filter((x) => x.body.kind === 'Automation').length
  const webhooks = result.objects.filter((x) => x.body.kind === 'Webhook').length
  io.err(`imported ${automations} automation${automations === 1 ? '' : 's'} and ${webhooks} webhook${webhooks === 1 ? '' : 's'}\n`)
  if (problems.length === 0) return 0
  io.err(`not converted (${problems.length}):\n${problems.map((p) => `  ${p}\n`).join('')}`)
  return 1
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('import')
    .description('turn W&B automations and integrations (the wandb SDK JSON) into hookwise manifests')
    .argument('<source>', 'wandb')
    .argument(
      '<file>',
      "JSON from the wandb SDK's model_dump_json() (one, a list or JSON Lines) or a GraphQL response; - for standard input",
    )
    .option('--entity <name>', 'entity (team) of project scopes and project collections (W&B does not export it)')
    .option('--registry <name>', 'registry of registry collection scopes, e.g. model (W&B does not export it)')
    .option('--project <name>', 'project of project collection scopes (W&B does not export it)')
    .option('--namespace <ns>', 'namespace of the objects written')
    .option('--secret-name <name>', 'Secret that holds the placeholders for W&B secrets', 'wandb-secrets')
    .action(async (source: string, file: string, opts: ImportOptions) => {
      if (source !== 'wandb')
        throw new HookwiseError('HW_USAGE', `cannot import from ${JSON.stringify(source)}`, { hint: 'write hookwise import wandb FILE' })
      setStatus(await importWandbCommand(file, opts, io))
    })
}
