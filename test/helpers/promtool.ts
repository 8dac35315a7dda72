// Prometheus's promtool (`check rules`, `test rules`) and promql-metrics (the metric names a PromQL
// expression selects, by Prometheus's own parser), from test/tools/promtool: a wrapper Go module
// pinning github.com/prometheus/prometheus, built once with the Go module proxy and cached by
// test/tools/go-build.ts in ~/.cache/hookwise-k8s/promtool-<version>_<hash>/ (in `pretest`, or by
// the first test that needs it).
//
//   const promtool = await usePromtool(t)   // undefined: the file was skipped (no Go); fails in CI
//   await promtool.run(['check', 'rules', file])
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TAP } from 'tap'
import { buildToolSet, cacheFolder, findGo, harnessConfig, isBuilt, type GoToolSet, type HarnessConfig } from '../tools/go-build.js'

const source = join(import.meta.dirname, '..', 'tools', 'promtool')

/** Prometheus v3.X.Y is the Go module version v0.3XX.Y. */
export function prometheusVersion(): string {
  const m = /^\s*(?:require\s+)?github\.com\/prometheus\/prometheus v0\.(\d)(\d\d)\.(\d+)/m.exec(
    readFileSync(join(source, 'go.mod'), 'utf8'),
  )
  if (!m) throw new Error(`${source}/go.mod does not require github.com/prometheus/prometheus v0.3XX.Y`)
  return `v${m[1]}.${Number(m[2])}.${m[3]}`
}

export async function promtoolToolSet(cfg: HarnessConfig): Promise<GoToolSet> {
  const version = prometheusVersion()
  const builds = (out: string) => [
    {
      what: `promtool (github.com/prometheus/prometheus/cmd/promtool ${version})`,
      module: '.',
      // Prometheus's own build tag leaving out every service discovery plugin (AWS, Azure, GCE...):
      // rule checks and rule tests need none, and they are most of a cold build.
      args: [
        '-tags',
        'remove_all_sd',
        '-ldflags',
        `-s -w -X github.com/prometheus/common/version.Version=${version.slice(1)}`,
        '-o',
        join(out, 'promtool'),
        'github.com/prometheus/prometheus/cmd/promtool',
      ],
    },
    {
      what: 'promql-metrics (promql/parser)',
      module: '.',
      args: ['-ldflags', '-s -w', '-o', join(out, 'promql-metrics'), './cmd/promql-metrics'],
    },
  ]
  return {
    label: 'promtool',
    purpose: "promtool, which checks and unit-tests the chart's alert rules",
    source,
    goMod: join(source, 'go.mod'),
    dir: await cacheFolder(cfg, `promtool-${version}`, source, builds('')),
    binaries: ['promtool', 'promql-metrics'],
    builds,
    manifest: { prometheus: version },
  }
}

export interface Promtool {
  /** promtool with these arguments: its exit code and output (never throws on a non-zero exit). */
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>
  /** The metric names each expression selects; rejects when one does not parse. */
  metricNames(exprs: string[]): Promise<Array<{ expr: string; metrics: string[] }>>
}

/** The built tools, or undefined after skipping the file (failing it in CI) when Go is missing. */
export async function usePromtool(t: TAP): Promise<Promtool | undefined> {
  const cfg = harnessConfig()
  const set = await promtoolToolSet(cfg)
  if (!isBuilt(set)) {
    const go = await findGo(cfg, set)
    if (!go.ok) {
      if (cfg.ci) t.fail(`the promtool tests must run in CI, but: ${go.reason}`)
      else t.comment(`promtool tests skipped: ${go.reason}`)
      return undefined
    }
    t.setTimeout(60 * 60_000)
    t.comment('promtool is not built yet; building it now (`npm test` does this in pretest)')
    await buildToolSet(cfg, set, (line) => console.error(line))
  }
  const bin = (name: string) => join(set.dir, 'bin', name)
  const exec = (name: string, args: string[], input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(bin(name), args, { encoding: 'utf8' }, (err, stdout, stderr) => {
        const code = (err as { code?: unknown } | null)?.code
        resolve({ code: err ? (typeof code === 'number' ? code : 1) : 0, stdout, stderr })
      })
      child.stdin!.end(input ?? '')
    })
  return {
    run: (args) => exec('promtool', args),
    metricNames: async (exprs) => {
      const r = await exec('promql-metrics', [], JSON.stringify(exprs))
      if (r.code !== 0) throw new Error(`promql-metrics: ${r.stderr.trim()}`)
      return JSON.parse(r.stdout) as Array<{ expr: string; metrics: string[] }>
    },
  }
}
