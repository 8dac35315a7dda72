// Registers `hookwise diff` on the command line (kept apart so main.ts stays a short list).
import { Option, type Command } from 'commander'
import { diffCommand, type DiffOptions } from './diff.js'
import type { CliIO } from './io.js'
import { collect } from './options.js'
import { PLAN_FORMATS } from './plan.js'

export function registerDiffCommand(cli: Command, io: CliIO, setStatus: (status: number) => void): void {
  cli
    .command('diff')
    .description('show what applying a folder would change in the cluster (read-only; for teams that apply with kubectl)')
    .requiredOption('--kubernetes', 'compare with the Webhooks and Automations in the Kubernetes cluster')
    .option('--path <dir>', 'folder of manifests, relative to the current folder', '.')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--namespace <ns>', "also read this namespace; the folder's namespaces are always read (repeatable)", collect)
    .addOption(new Option('--all-namespaces', 'read every namespace').conflicts('namespace'))
    .addOption(new Option('--format <format>', 'output format').choices(PLAN_FORMATS).default('markdown'))
    .option('--events <dir>', 'folder of event JSON files to preview requests with (default: built-in samples)')
    .action(async (opts: DiffOptions & { kubernetes: true }) => {
      setStatus(await diffCommand(opts, io))
    })
}
