#!/usr/bin/env node
// The hookwise command line. Exit status: 0 success, 1 invalid input or failure, 2 usage error.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { HookwiseError, UsageError } from '../errors.js'
import { VERSION } from '../version.js'
import { DIAGNOSTICS_FORMATS, type DiagnosticsFormat } from './diagnostics-format.js'
import { registerDeliveryCommands } from './delivery-commands.js'
import { curlCommand } from './curl.js'
import { processIO, type CliIO } from './io.js'
import { listenCommand, parsePort, parseStatus } from './listen.js'
import { matchCommand } from './match.js'
import { registerDiffCommand } from './diff-command.js'
import { registerPlanCommand } from './plan-command.js'
import { renderCommand } from './render.js'
import { validateCommand } from './validate.js'
import { collect } from './options.js'

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number of seconds since 1970')
  return Number(value)
}

function program(io: CliIO, setStatus: (status: number) => void): Command {
  const cli = new Command('hookwise')
    .description('Declarative webhook automations for ML artifact registries.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run hookwise --help for usage)')

  cli
    .command('validate')
    .description('validate Webhook, Automation and Secret manifests (files or folders, recursively)')
    .argument('<path...>', 'manifest files or folders')
    .addOption(new Option('--format <format>', 'output format').choices(DIAGNOSTICS_FORMATS).default('text'))
    .option('--secrets <dir>', 'also validate the Secret manifests in this folder (repeatable)', collect)
    .action(async (paths: string[], opts: { format: DiagnosticsFormat; secrets?: string[] }) => {
      setStatus(await validateCommand(paths, { format: opts.format, ...(opts.secrets ? { secrets: opts.secrets } : {}) }, io))
    })

  cli
    .command('render')
    .description('print exactly the body an automation would POST for an event')
    .requiredOption('--manifests <dir>', 'folder of Webhook and Automation manifests (repeatable)', collect)
    .requiredOption('--automation <[namespace/]name>', 'the automation to render (namespace defaults to default)')
    .requiredOption('--event <file>', 'the event, as a JSON file (- for standard input)')
    .option('--secrets <dir>', 'folder of Secret manifests with the webhook secret values (repeatable)', collect)
    .option('--show-headers', 'print the request line and headers too (credentials masked)')
    .option('--delivery-id <id>', 'delivery id for the webhook-id header and the signature', 'render-preview')
    .option('--timestamp <unix-seconds>', 'timestamp to sign with (default: now)', integer)
    .action(async (opts: { manifests: string[]; automation: string; event: string; secrets?: string[]; showHeaders?: boolean; deliveryId: string; timestamp?: number }) => {
      setStatus(await renderCommand(opts, io))
    })

  cli
    .command('match')
    .description('print NAMESPACE/NAME of each automation an event fires')
    .requiredOption('--manifests <dir>', 'folder of Webhook and Automation manifests (repeatable)', collect)
    .requiredOption('--event <file>', 'the event, as a JSON file (- for standard input)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: { manifests: string[]; event: string; format: 'text' | 'json' }) => {
      setStatus(await matchCommand(opts, io))
    })

  cli
    .command('curl')
    .description('print a bash script (curl + openssl) that sends exactly the request an automation sends for an event')
    .requiredOption('--manifests <dir>', 'folder of Webhook and Automation manifests (repeatable)', collect)
    .requiredOption('--automation <[namespace/]name>', 'the automation (namespace defaults to default)')
    .requiredOption('--event <file>', 'the event, as a JSON file (- for standard input)')
    .option('--secrets <dir>', 'folder of Secret manifests (repeatable; needed with --reveal-secrets or when the body uses a secret)', collect)
    .option('--reveal-secrets', 'put the secret values in the script instead of asking for them as shell variables')
    .option('--delivery-id <id>', 'delivery id for the webhook-id header and the signature', 'curl-preview')
    .option('--timestamp <unix-seconds>', 'timestamp to sign with (default: when the script runs)', integer)
    .action(async (opts: { manifests: string[]; automation: string; event: string; secrets?: string[]; revealSecrets?: boolean; deliveryId: string; timestamp?: number }) => {
      setStatus(await curlCommand(opts, io))
    })

  cli
    .command('listen')
    .description('receive webhooks locally: print each one and whether its signature verifies')
    .requiredOption('--port <port>', 'port to listen on (0 picks a free one)', parsePort)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--secret <secret>', 'signing secret to verify signatures with')
    .addOption(new Option('--scheme <scheme>', 'signature scheme (default wandb when --secret is given)').choices(['wandb', 'standard-webhooks', 'github']))
    .option('--status <code>', 'HTTP status to answer with', parseStatus, 200)
    .option('--json', 'print one JSON object per webhook, one per line')
    .action(async (opts: { port: number; host: string; secret?: string; scheme?: 'wandb' | 'standard-webhooks' | 'github'; status: number; json?: boolean }) => {
      setStatus(await listenCommand(opts, io))
    })
  registerDeliveryCommands(cli, io, setStatus)
  registerPlanCommand(cli, io, setStatus)
  registerDiffCommand(cli, io, setStatus)
  return cli
}

/** Runs the command line and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  let status = 0
  const cli = program(io, (s) => { status = s })
  try {
    await cli.parseAsync([...argv], { from: 'user' })
    return status
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version end "with an error" of exit code 0; everything else is a usage error.
      return err.exitCode === 0 ? 0 : 2
    }
    if (err instanceof HookwiseError) {
      io.err(`error ${err.code}: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}\n`)
      return err instanceof UsageError ? 2 : 1
    }
    io.err(`internal error: ${(err as Error).stack ?? String(err)}\nplease report this as a bug\n`)
    return 1
  }
}

const isMain = process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
if (isMain) {
  process.exitCode = await runCli(process.argv.slice(2))
}
