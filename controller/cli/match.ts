// `hookwise match`: which automations an event fires.
import { Option, type Command } from 'commander'
import { parseEvent } from '../api/event.js'
import { AutomationIndex } from '../match/automation-index.js'
import type { CompiledAutomation } from '../model/desired-state.js'
import { loadDesiredState } from '../sources/load.js'
import { formatText, UsageError } from '../errors.js'
import { matchRuns, type RunMatch } from '../match/run-match.js'
import { summary } from './diagnostics-format.js'
import type { CommandContext } from './command.js'
import { readInput, type CliIO } from './io.js'
import { collect } from './options.js'
import { readRunMessages } from './run-messages.js'

interface MatchOptions {
  manifests: string[]
  event?: string
  run?: string
  format: 'text' | 'json'
}

/** `hookwise match`: prints NAMESPACE/NAME of every automation the event (or the run messages) fires. */
export async function matchCommand(options: MatchOptions, io: CliIO): Promise<number> {
  if ((options.event === undefined) === (options.run === undefined))
    throw new UsageError(
      'match needs one of --event FILE and --run FILE',
      'pass an artifact event with --event, or run messages with --run',
    )
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
  if (options.run !== undefined) {
    const messages = await readRunMessages(options.run, io)
    if (!messages) return 1
    printRunMatches(matchRuns(state.automations, messages, state.namespaceEntities), options.format, io)
    return 0
  }
  const event = options.event!
  const parsed = parseEvent(await readInput(event, io), event)
  if (!parsed.ok) {
    io.err(`${parsed.diagnostics.map(formatText).join('\n')}\n`)
    return 1
  }
  const matches = new AutomationIndex(state.automations).match(parsed.event)
  if (options.format === 'json') {
    io.out(
      `${JSON.stringify(
        matches.map((a) => ({ namespace: a.namespace, name: a.name, ...actionOf(a) })),
        null,
        2,
      )}\n`,
    )
  } else if (matches.length > 0) {
    io.out(`${matches.map((a) => (a.spec.action.noop ? `${a.key} noop` : a.key)).join('\n')}\n`)
  }
  return 0
}

/** Text: one line per firing, `NAMESPACE/NAME run ID step N METRIC=VALUE` or `NAMESPACE/NAME run ID state STATE`. */
function printRunMatches(matches: RunMatch[], format: 'text' | 'json', io: CliIO): void {
  if (format === 'json') {
    const rows = matches.map((m) => ({
      namespace: m.automation.namespace,
      name: m.automation.name,
      ...actionOf(m.automation),
      type: m.type,
      run: m.run,
      // NaN and the infinities as text, as run messages and events carry them.
      ...(m.metric ? { metric: { ...m.metric, value: Number.isFinite(m.metric.value) ? m.metric.value : String(m.metric.value) } } : {}),
      ...(m.state ? { state: m.state } : {}),
    }))
    io.out(`${JSON.stringify(rows, null, 2)}\n`)
    return
  }
  for (const m of matches) {
    const what = m.metric ? `step ${m.metric.step} ${m.metric.name}=${m.metric.value}` : `state ${m.state}`
    io.out(`${m.automation.key} run ${m.run} ${what}\n`)
  }
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('match')
    .description('print NAMESPACE/NAME of each automation an event (or a file of run messages) fires')
    .requiredOption('--manifests <dir>', 'folder of Webhook and Automation manifests (repeatable)', collect)
    .option('--event <file>', 'the artifact event, as a JSON file (- for standard input)')
    .option('--run <file>', 'run messages (one or a list, as POST /v1/runs takes), as a JSON file (- for standard input)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: MatchOptions) => {
      setStatus(await matchCommand(opts, io))
    })
}

/** JSON's action fields: the webhook called, or `action: "noop"` for a noop action (it sends nothing). */
function actionOf(a: CompiledAutomation): { webhook: string } | { action: 'noop' } {
  return a.spec.action.webhook === undefined ? { action: 'noop' } : { webhook: a.spec.action.webhook }
}
