// Registers `hookwise plan` on the command line (kept apart so main.ts stays a short list).
import { Option, type Command } from 'commander'
import type { CliIO } from './io.js'
import { PLAN_FORMATS, planCommand, type PlanFormat } from './plan.js'
import { collect } from './options.js'

export function registerPlanCommand(cli: Command, io: CliIO, setStatus: (status: number) => void): void {
  cli
    .command('plan')
    .description('show what a change does to the Webhooks and Automations, for a pull request (run inside a git checkout)')
    .requiredOption('--base <ref>', 'the revision to compare with, e.g. origin/main')
    .option('--head <ref>', 'the revision to review (default: the working tree)')
    .option('--path <dir>', 'folder of manifests in the repository, relative to the current folder', '.')
    .addOption(new Option('--format <format>', 'output format').choices(PLAN_FORMATS).default('markdown'))
    .option('--events <dir>', 'folder of event JSON files to preview requests with (default: built-in samples)')
    .option('--secrets <dir>', 'folder of Secret manifests: warn when a webhook secret is missing (values are never shown; repeatable)', collect)
    .action(async (opts: { base: string; head?: string; path: string; format: PlanFormat; events?: string; secrets?: string[] }) => {
      setStatus(await planCommand(opts, io))
    })
}
