#!/usr/bin/env node
// The hookwise command line. Exit status: 0 success, 1 invalid input or failure, 2 usage error.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { HookwiseError, UsageError } from '../errors.js'
import { VERSION } from '../version.js'
import type { CommandContext } from './command.js'
import { processIO, type CliIO } from './io.js'

type CommandModule = { register(cli: Command, ctx: CommandContext): void }

/**
 * The commands, in the order `hookwise --help` lists them: the names each module registers, and the
 * module, imported only when needed (issue 22). `hookwise validate` loads validation alone, not
 * every command's dependencies (the Kubernetes client, git, SQLite): about a second of CPU.
 */
const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<CommandModule> }> = [
  { names: ['validate'], load: () => import('./validate.js') },
  { names: ['render'], load: () => import('./render.js') },
  { names: ['match'], load: () => import('./match.js') },
  { names: ['curl'], load: () => import('./curl.js') },
  { names: ['listen'], load: () => import('./listen.js') },
  { names: ['run'], load: () => import('./run.js') },
  { names: ['emit'], load: () => import('./emit.js') },
  { names: ['deliveries', 'delivery', 'redeliver'], load: () => import('./history.js') },
  { names: ['get', 'describe'], load: () => import('./status.js') },
  { names: ['test'], load: () => import('./test-webhook.js') },
  { names: ['plan'], load: () => import('./plan.js') },
  { names: ['diff'], load: () => import('./diff.js') },
  { names: ['check'], load: () => import('./check.js') },
  { names: ['sources'], load: () => import('./sources.js') },
  { names: ['import'], load: () => import('./import-wandb.js') },
]

/** The modules of the command named first in argv, or all of them (help, a misspelled command, none). */
async function commandModules(argv: readonly string[]): Promise<CommandModule[]> {
  const name = argv[0]
  const named = COMMANDS.find((c) => name !== undefined && c.names.includes(name))
  return Promise.all((named ? [named] : COMMANDS).map((c) => c.load()))
}

function program(ctx: CommandContext, commands: readonly CommandModule[]): Command {
  const cli = new Command('hookwise')
    .description('Declarative webhook automations for ML artifact registries.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: ctx.io.out, writeErr: ctx.io.err })
    .showHelpAfterError('(run hookwise --help for usage)')
  for (const command of commands) command.register(cli, ctx)
  return cli
}

/** Runs the command line and returns the exit status. */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  let status = 0
  const cli = program(
    {
      io,
      setStatus: (s) => {
        status = s
      },
    },
    await commandModules(argv),
  )
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
