// `hookwise validate PATH...`: checks manifests as the controller would load them.
import { Option, type Command } from 'commander'
import { loadDesiredState } from '../sources/load.js'
import type { CommandContext } from './command.js'
import { DIAGNOSTICS_FORMATS, formatDiagnostics, summary, type DiagnosticsFormat } from './diagnostics-format.js'
import type { CliIO } from './io.js'
import { collect } from './options.js'

/** `hookwise validate PATH...`: 0 when valid, 1 when not. */
export async function validateCommand(
  paths: string[],
  options: { format: DiagnosticsFormat; secrets?: string[] },
  io: CliIO,
): Promise<number> {
  const state = await loadDesiredState({ manifests: paths, secrets: options.secrets ?? [] })
  const counts = {
    files: state.files.length,
    webhooks: state.webhooks.size,
    automations: state.automations.length,
    secrets: state.secrets.size,
  }
  const text = formatDiagnostics(state.diagnostics, options.format, { objects: counts })
  if (text) io.out(`${text}\n`)
  return summary(state.diagnostics).errors === 0 ? 0 : 1
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('validate')
    .description('validate Webhook, Automation and Secret manifests (files or folders, recursively)')
    .argument('<path...>', 'manifest files or folders')
    .addOption(new Option('--format <format>', 'output format').choices(DIAGNOSTICS_FORMATS).default('text'))
    .option('--secrets <dir>', 'also validate the Secret manifests in this folder (repeatable)', collect)
    .action(async (paths: string[], opts: { format: DiagnosticsFormat; secrets?: string[] }) => {
      setStatus(await validateCommand(paths, { format: opts.format, ...(opts.secrets ? { secrets: opts.secrets } : {}) }, io))
    })
}
