// `hookwise match`: which automations an event fires.
import { Option, type Command } from 'commander'
import { parseEvent } from '../api/event.js'
import { AutomationIndex } from '../match/automation-index.js'
import { loadDesiredState } from '../sources/load.js'
import { formatText } from '../errors.js'
import { summary } from './diagnostics-format.js'
import type { CommandContext } from './command.js'
import { readInput, type CliIO } from './io.js'
import { collect } from './options.js'

/** `hookwise match`: prints NAMESPACE/NAME of every automation the event fires. */
export async function matchCommand(options: { manifests: string[]; event: string; format: 'text' | 'json' }, io: CliIO): Promise<number> {
  const state = await loadDesiredState({ manifests: options.manifests })
  const { errors } = summary(state.diagnostics)
  if (errors > 0) {
    io.err(
      `${state.diagnostics
        .filter((d) => d.severity === 'error')
        .map(formatText)
        .join('\n')}\nwarning: objects with errors are skipped; matching the valid ones\n`,
    )
  }
  const parsed = parseEvent(await readInput(options.event, io), options.event)
  if (!parsed.ok) {
    io.err(`${parsed.diagnostics.map(formatText).join('\n')}\n`)
    return 1
  }
  const matches = new AutomationIndex(state.automations).match(parsed.event)
  if (options.format === 'json') {
    io.out(
      `${JSON.stringify(
        matches.map((a) => ({ namespace: a.namespace, name: a.name, webhook: a.spec.action.webhook })),
        null,
        2,
      )}\n`,
    )
  } else if (matches.length > 0) {
    io.out(`${matches.map((a) => a.key).join('\n')}\n`)
  }
  return 0
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('match')
    .description('print NAMESPACE/NAME of each automation an event fires')
    .requiredOption('--manifests <dir>', 'folder of Webhook and Automation manifests (repeatable)', collect)
    .requiredOption('--event <file>', 'the event, as a JSON file (- for standard input)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { manifests: string[]; event: string; format: 'text' | 'json' }) => {
      setStatus(await matchCommand(opts, io))
    })
}
