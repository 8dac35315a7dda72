// Benchmark: loading desired state at scale (issue 22). For 1k, 10k and 100k Automations (plus 100
// Webhooks, see state-workload.ts) it measures, on the compiled CLI:
//   - `hookwise validate DIR`: wall and CPU time (CPU moves less on a busy machine) and peak resident memory;
//   - `hookwise run --dir DIR`: wall and CPU time until "hookwise is running", resident memory then;
//   - one-line edits of one file: time from the write to "desired state applied" (this includes the
//     folder watcher's fixed waits: 200 ms debounce and 50 ms for the write to settle), the controller's
//     own time for it when it logs one (`reloadMs`: the `loadMs` of "manifests reloaded" plus the
//     `applyMs` of "desired state applied"), its CPU time for the edit, and resident memory after the edits.
// With BENCH_BASELINE=/path/to/an/older/checkout (built to dist/) the same run measures it too, so the
// figures stand beside each other on the same machine, in the same minute.
// Run: npm run bench:state   (not part of npm test). Knobs: BENCH_SIZES=1000,10000  BENCH_EDITS=20
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { cpuSeconds, positiveEnv } from './measure.js'
import { editAutomation, writeWorkload, type Workload } from './state-workload.js'

const sizes = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number)
const edits = positiveEnv('BENCH_EDITS', 20)
/** Edits at 100k and above are slow on older builds: this many at most there. */
const editsAtLarge = positiveEnv('BENCH_EDITS_LARGE', 5)
const builds: Array<{ name: string; root: string }> = [
  ...(process.env.BENCH_BASELINE ? [{ name: 'baseline', root: resolve(process.env.BENCH_BASELINE) }] : []),
  { name: 'current', root: resolve(import.meta.dirname, '..') },
]
// Peak resident memory, printed by the child itself as it exits (kilobytes).
const REPORT_RSS =
  'data:text/javascript,process.on("exit",()=>{const u=process.resourceUsage();process.stderr.write("maxrss "+u.maxRSS+" cpu "+(u.userCPUTime+u.systemCPUTime)+"\\n")})'

const cli = (root: string): string => join(root, 'dist/controller/cli/main.js')
const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Math.round(Number(m?.[1] ?? 0) / 1024)
}

async function validate(root: string, dir: string): Promise<{ seconds: number; cpuSeconds: number; peakMb: number; exit: number | null }> {
  const start = performance.now()
  const child = spawn(process.execPath, ['--import', REPORT_RSS, cli(root), 'validate', dir], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exit = await new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const seconds = (performance.now() - start) / 1000
  const m = /maxrss (\d+) cpu (\d+)/.exec(stderr)
  return { seconds, cpuSeconds: Number(m?.[2] ?? 0) / 1e6, peakMb: Math.round(Number(m?.[1] ?? 0) / 1024), exit }
}

interface RunFigures {
  readySeconds: number
  readyCpuSeconds: number
  rssAfterLoadMb: number
  editMs: number[]
  applyMs: number[]
  editCpuMs: number[]
  rssAfterEditsMb: number
  automations: number
}

async function run(root: string, w: Workload, n: number, editCount: number): Promise<RunFigures> {
  const state = mkdtempSync(join(tmpdir(), 'hookwise-bench-state-'))
  const start = performance.now()
  const child = spawn(process.execPath, [cli(root), 'run', '--dir', w.dir, '--state', state, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout! })
  const waiting: Array<(line: Record<string, unknown>) => void> = []
  const applied: Array<Record<string, unknown>> = []
  let lastLoadMs: number | undefined
  lines.on('line', (text) => {
    let line: Record<string, unknown>
    try {
      line = JSON.parse(text)
    } catch {
      return
    }
    if (line.msg === 'desired state applied') applied.push(line)
    if (line.msg === 'manifests reloaded' && typeof line.loadMs === 'number') lastLoadMs = line.loadMs
    for (const w of waiting.splice(0)) w(line)
  })
  const next = (msg: string): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const check = (line: Record<string, unknown>): void => {
        if (line.msg === msg) resolve(line)
        else waiting.push(check)
      }
      waiting.push(check)
    })
  try {
    await next('hookwise is running')
    const readySeconds = (performance.now() - start) / 1000
    const readyCpuSeconds = cpuSeconds(child.pid) ?? 0
    await new Promise((r) => setTimeout(r, 500))
    const rssAfterLoadMb = rssMb(child.pid!)
    const editMs: number[] = []
    const applyMs: number[] = []
    const editCpuMs: number[] = []
    for (let k = 1; k <= editCount; k++) {
      const done = next('desired state applied')
      const t0 = performance.now()
      const cpu0 = cpuSeconds(child.pid) ?? 0
      editAutomation(w, (k * 7919) % n, k)
      const line = await done
      editMs.push(Math.round(performance.now() - t0))
      // The controller's CPU for the edit (and its idle ticks meanwhile): moves less than wall time on a busy machine.
      editCpuMs.push(Math.round(((cpuSeconds(child.pid) ?? 0) - cpu0) * 1000))
      // The controller's own time: reading, parsing, validating (loadMs) and applying (applyMs) the change.
      if (typeof line.applyMs === 'number' && lastLoadMs !== undefined) applyMs.push(lastLoadMs + line.applyMs)
      lastLoadMs = undefined
      await new Promise((r) => setTimeout(r, 100))
    }
    const rssAfterEditsMb = rssMb(child.pid!)
    return {
      readySeconds,
      readyCpuSeconds,
      rssAfterLoadMb,
      editMs,
      applyMs,
      editCpuMs,
      rssAfterEditsMb,
      automations: Number(applied[0]?.automations),
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.on('exit', r))
    rmSync(state, { recursive: true, force: true })
  }
}

const median = (xs: number[]): number | undefined => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : undefined)

for (const n of sizes) {
  const dir = mkdtempSync(join(tmpdir(), `hookwise-bench-${n}-`))
  try {
    for (const build of builds) {
      // Each build gets the same files, freshly written (an earlier run's edits undone).
      const w = writeWorkload(dir, n)
      const v = await validate(build.root, dir)
      const r = await run(build.root, w, n, n >= 100_000 ? Math.min(edits, editsAtLarge) : edits)
      console.log(
        JSON.stringify({
          bench: 'state',
          build: build.name,
          automations: n,
          files: w.files.length,
          yamlMb: Number((w.bytes / 1024 / 1024).toFixed(1)),
          validateSeconds: Number(v.seconds.toFixed(2)),
          validateCpuSeconds: Number(v.cpuSeconds.toFixed(2)),
          validatePeakMb: v.peakMb,
          validateExit: v.exit,
          runReadySeconds: Number(r.readySeconds.toFixed(2)),
          runReadyCpuSeconds: Number(r.readyCpuSeconds.toFixed(2)),
          runRssMb: r.rssAfterLoadMb,
          kbPerAutomation: Math.round((r.rssAfterLoadMb * 1024) / n),
          loaded: r.automations,
          edits: r.editMs.length,
          editToAppliedMsMedian: median(r.editMs),
          editToAppliedMsMax: r.editMs.length ? Math.max(...r.editMs) : undefined,
          reloadMsMedian: median(r.applyMs),
          reloadMsMax: r.applyMs.length ? Math.max(...r.applyMs) : undefined,
          editCpuMsMedian: median(r.editCpuMs),
          rssAfterEditsMb: r.rssAfterEditsMb,
        }),
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
