// `hookwise check`: is this cluster ready for hookwise, and if not, what to do (kubernetes/cluster-check.ts).
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Option, type Command } from 'commander'
import type { V1CustomResourceDefinition } from '@kubernetes/client-node'
import { parse } from 'yaml'
import type { CheckReport } from '../kubernetes/cluster-check.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { collect } from './options.js'

export interface CheckCommandOptions {
  kubeconfig?: string
  namespace?: string[]
  format: 'text' | 'json'
}

/** The crds/ folder shipped with this hookwise (next to dist/ in the package, or in the repository). */
export function shippedCrds(): V1CustomResourceDefinition[] {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'crds')) && dirname(dir) !== dir) dir = dirname(dir)
  const crds = join(dir, 'crds')
  return readdirSync(crds)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parse(readFileSync(join(crds, f), 'utf8')) as V1CustomResourceDefinition)
}

const MARK = { ok: 'ok  ', warning: 'warn', error: 'FAIL' } as const

export function formatCheck(r: CheckReport): string {
  const lines = [`cluster ${r.server} (context ${r.context})`]
  for (const f of r.findings) {
    lines.push(`${MARK[f.level]} ${f.check}: ${f.message}`)
    if (f.hint) lines.push(`     hint: ${f.hint}`)
  }
  const errors = r.findings.filter((f) => f.level === 'error').length
  const warnings = r.findings.filter((f) => f.level === 'warning').length
  const tail = warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''
  lines.push(errors ? `check failed: ${errors} error${errors === 1 ? '' : 's'}${tail}` : `all checks passed${tail}`)
  return `${lines.join('\n')}\n`
}

export async function checkCommand(o: CheckCommandOptions, io: CliIO): Promise<number> {
  // Loaded here, not at the top: every command line imports this file, and the Kubernetes client is
  // about 80 MB of resident memory (hookwise run --dir has no use for it).
  const [{ checkCluster }, { loadKubeConfig }] = await Promise.all([
    import('../kubernetes/cluster-check.js'),
    import('../kubernetes/kube-config.js'),
  ])
  const report = await checkCluster({
    kubeConfig: loadKubeConfig(o.kubeconfig),
    expectedCrds: shippedCrds(),
    ...(o.namespace?.length ? { namespaces: o.namespace } : {}),
  })
  io.out(o.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatCheck(report))
  return report.ok ? 0 : 1
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('check')
    .description('check that a Kubernetes cluster is ready for hookwise: API server, CRDs, permissions, controllers, Secrets')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--namespace <ns>', 'check only this namespace, as run --kubernetes --namespace (repeatable)', collect)
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (opts: CheckCommandOptions) => {
      setStatus(await checkCommand(opts, io))
    })
}
