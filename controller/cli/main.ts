#!/usr/bin/env node
// The hookwise command line. Exit status: 0 success, 1 invalid input or failure, 2 usage error.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { HookwiseError, UsageError } from '../errors.js'
import { VERSION } from '../version.js'
import * as check from './check.js'
import type { CommandContext } from './command.js'
import * as curl from './curl.js'
import * as diff from './diff.js'
import * as emit from './emit.js'
import * as history from './history.js'
import { processIO, type CliIO } from './io.js'
import * as listen from './listen.js'
import * as match from './match.js'
import * as plan from './plan.js'
import * as render from './render.js'
import * as run from './run.js'
import * as sources from './sources.js'
import * as status from './status.js'
import * as testWebhook from './test-webhook.js'
import * as importWandb from './import-wandb.js'
import * as validate from './validate.js'

/** The commands, in the order `hookwise --help` lists them. */
const COMMANDS: ReadonlyArray<{ register(cli: Command, ctx: CommandContext): void }> = [
  validate,
  render,
  match,
  curl,
  listen,
  run,
  emit,
  history,
  status,
  testWebhook,
  plan,
  diff,
  check,
  sources,
  importWandb,
]

function program(ctx: CommandContext): Command {
  const cli = new Command('hookwise')
    .description('Declarative webhook automations for ML artifact registries.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err })
    .showHelpAfterError('(run hookwise --help for usage)')
  for (const command of COMMANDS) command.register(cli, ctx)
  return cli
}

/** Runs the command line and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  let status = 0
  const cli = program({
    io,
    setStatus: (s) => {
      status = s
    },
  })
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
