// `hookwise plan`: what a pull request changes in the manifests, for a reviewer — run inside a checkout.
import { readdir, readFile, realpath } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { join } from 'node:path'
import { parseEvent } from '../api/event.js'
import { HookwiseError } from '../errors.js'
import { formatMarkdown } from '../plan/markdown.js'
import { computePlan, type PlanRevision } from '../plan/plan.js'
import type { NamedEvent } from '../plan/sample-events.js'
import { checkoutManifests, openRepository, pathInRepository, resolveCommit } from '../sources/git-revision.js'
import { loadRevision } from '../sources/revision-state.js'
import { formatText } from '../errors.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { collect } from './options.js'

export type PlanFormat = 'markdown' | 'json'
export const PLAN_FORMATS: readonly PlanFormat[] = ['markdown', 'json']

export interface PlanOptions {
  base: string
  /** A ref; absent for the working tree. */
  head?: string
  /** Manifests folder, relative to the current folder. */
  path: string
  format: PlanFormat
  /** Folder of event JSON files to preview automations with. */
  events?: string
  /** Folders of Secret manifests (outside git): their values are never shown, only checked for. */
  secrets?: string[]
  /** The folder to run in; the current folder by default. */
  cwd?: string
}

/** The valid events of `dir` (`*.json`, sorted by name); invalid ones are reported on standard error and skipped. */
export async function readEvents(dir: string, io: CliIO): Promise<NamedEvent[]> {
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.json')).sort()
  } catch {
    throw new HookwiseError('HW_PATH_NOT_FOUND', `--events ${dir} does not exist or is not a folder`, {
      hint: 'give a folder of event JSON files, e.g. examples/events',
    })
  }
  const events: NamedEvent[] = []
  for (const name of names) {
    const file = join(dir, name)
    const parsed = parseEvent(await readFile(file, 'utf8'), file)
    if (parsed.ok) events.push({ file, event: parsed.event })
    else io.err(`${parsed.diagnostics.map(formatText).join('\n')}\nnote: skipping ${file}\n`)
  }
  return events
}

/** Prints the plan; 0 when the head is valid, 1 when not. Usage problems (not a checkout, unknown ref) throw a UsageError (2). */
export async function planCommand(options: PlanOptions, io: CliIO): Promise<number> {
  // Real path, as the repository root is: a symlinked folder (macOS /tmp) still lies inside it.
  const cwd = await realpath(options.cwd ?? process.cwd())
  const repo = await openRepository(cwd)
  const path = pathInRepository(repo, cwd, options.path)
  const baseCommit = await resolveCommit(repo, options.base)
  const headCommit = options.head === undefined ? undefined : await resolveCommit(repo, options.head)
  const secrets = options.secrets ?? []
  const events = options.events === undefined ? [] : await readEvents(options.events, io)

  const trees = [await checkoutManifests(repo, baseCommit, path)]
  try {
    const base: PlanRevision = { ref: options.base, commit: baseCommit, ...(await loadRevision(trees[0]!.root, path, secrets)) }
    let head: PlanRevision
    if (headCommit === undefined) {
      head = { ref: 'working tree', ...(await loadRevision(repo.root, path, secrets)) }
    } else {
      trees.push(await checkoutManifests(repo, headCommit, path))
      head = { ref: options.head!, commit: headCommit, ...(await loadRevision(trees[1]!.root, path, secrets)) }
    }
    const plan = computePlan({ base, head, path, events, checkSecrets: secrets.length > 0 })
    io.out(options.format === 'json' ? `${JSON.stringify(plan, null, 2)}\n` : formatMarkdown(plan))
    return plan.valid ? 0 : 1
  } finally {
    await Promise.all(trees.map((t) => t.remove()))
  }
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('plan')
    .description('show what a change does to the Webhooks and Automations, for a pull request (run inside a git checkout)')
    .requiredOption('--base <ref>', 'the revision to compare with, e.g. origin/main')
    .option('--head <ref>', 'the revision to review (default: the working tree)')
    .option('--path <dir>', 'folder of manifests in the repository, relative to the current folder', '.')
    .addOption(new Option('--format <format>', 'output format').choices(PLAN_FORMATS).default('markdown'))
    .option('--events <dir>', 'folder of event JSON files to preview requests with (default: built-in samples)')
    .option(
      '--secrets <dir>',
      'folder of Secret manifests: warn when a webhook secret is missing (values are never shown; repeatable)',
      collect,
    )
    .action(async (opts: { base: string; head?: string; path: string; format: PlanFormat; events?: string; secrets?: string[] }) => {
      setStatus(await planCommand(opts, io))
    })
}
