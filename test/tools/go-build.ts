// Builds the Go programs the tests run and caches them outside the repository, one folder per tool
// set, named after a hash of the set's Go modules and build flags:
//
//   ~/.cache/hookwise-k8s/<name>_<hash>/bin/
//
// Editing a go.mod (a version bump) or a source file leads to a new folder and a rebuild; anything
// else reuses the folder. The sets: the Kubernetes tools (test/k8s/tools.ts) and the SSH git server
// (test/helpers/git-sshd.ts). Python programs are installed the same way by test/tools/python-venv.ts.

import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, join, relative } from 'node:path'

/** Environment the harness reads, parsed once. */
export interface HarnessConfig {
  /** `CI=true` (or any non-empty value but `false`/`0`): the tests needing Go must run. */
  ci: boolean
  /** `HOOKWISE_K8S=0` opts out of the Kubernetes tests locally (they skip); ignored in CI. */
  optedOut: boolean
  /** Where built tools are cached; `HOOKWISE_K8S_CACHE`, else `$XDG_CACHE_HOME/hookwise-k8s`, else `~/.cache/hookwise-k8s`. */
  cacheRoot: string
  /** The Go command; `HOOKWISE_GO`, else `go` from PATH. */
  go: string
}

export function harnessConfig(env: NodeJS.ProcessEnv = process.env): HarnessConfig {
  const flag = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false'
  const cacheBase = env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return {
    ci: flag(env.CI),
    optedOut: env.HOOKWISE_K8S === '0' || env.HOOKWISE_K8S?.toLowerCase() === 'false',
    cacheRoot: env.HOOKWISE_K8S_CACHE || join(cacheBase, 'hookwise-k8s'),
    go: env.HOOKWISE_GO || 'go',
  }
}

/** One `go build`: run in `module` (a folder below the set's source folder) with `args`. */
export interface GoBuild {
  what: string
  module: string
  args: string[]
}

/** Go programs built together into one cache folder. */
export interface GoToolSet {
  /** Prefix of the log lines, e.g. `k8s tools`. */
  label: string
  /** What the set is, for messages: "Go ... is needed to build <purpose>". */
  purpose: string
  /** The folder holding the set's Go modules. */
  source: string
  /** The go.mod whose `go` line is the oldest Go that builds the set. */
  goMod: string
  /** The cache folder (see cacheFolder). */
  dir: string
  /** Files `builds` must produce in `<dir>/bin`. */
  binaries: readonly string[]
  /** The build commands, writing into the folder `out`. */
  builds(out: string): GoBuild[]
  /** Fields written into `<dir>/tools.json` besides go, builtAt and seconds. */
  manifest?: Record<string, unknown>
}

/** `<cacheRoot>/<name>_<hash>`: the hash covers every file below `source` and the build commands. */
export async function cacheFolder(cfg: HarnessConfig, name: string, source: string, builds: GoBuild[]): Promise<string> {
  const hash = createHash('sha256')
  for (const file of await listFiles(source)) {
    hash
      .update(relative(source, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0')
  }
  hash.update(JSON.stringify(builds))
  return join(cfg.cacheRoot, `${name}_${hash.digest('hex').slice(0, 10)}`)
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await listFiles(path)))
    else out.push(path)
  }
  return out
}

export type GoStatus = { ok: true; go: string; version: string } | { ok: false; reason: string }

/** Whether a Go new enough for the set is installed. */
export async function findGo(cfg: HarnessConfig, set: GoToolSet): Promise<GoStatus> {
  const result = spawnSync(cfg.go, ['env', 'GOVERSION'], { encoding: 'utf8', env: goEnv() })
  if (result.error || result.status !== 0) {
    const why = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'not found on PATH' : 'does not run'
    return { ok: false, reason: `Go (${cfg.go}) ${why}; it is needed to build ${set.purpose}` }
  }
  const version = result.stdout.trim()
  const need = /^go\s+(\d+)\.(\d+)/m.exec(await readFile(set.goMod, 'utf8'))
  const have = /^go(\d+)\.(\d+)/.exec(version)
  if (need && have && (Number(have[1]) < Number(need[1]) || (Number(have[1]) === Number(need[1]) && Number(have[2]) < Number(need[2])))) {
    return { ok: false, reason: `${version} is too old to build ${set.purpose} (needs go${need[1]}.${need[2]})` }
  }
  return { ok: true, go: cfg.go, version }
}

/** Whether the set is in the cache. */
export function isBuilt(set: GoToolSet): boolean {
  return existsSync(join(set.dir, 'tools.json'))
}

/**
 * Builds the set into its cache folder unless it is there. Concurrent callers (two test files, or
 * `npm test` next to `npm run k8s:up`) wait for one build through a lock folder.
 */
export async function buildToolSet(cfg: HarnessConfig, set: GoToolSet, log: (line: string) => void): Promise<void> {
  if (isBuilt(set)) return
  const go = await findGo(cfg, set)
  if (!go.ok) throw new Error(go.reason)
  const { dir, label } = set
  await mkdir(cfg.cacheRoot, { recursive: true })
  const release = await lock(`${dir}.lock`, label, log)
  try {
    if (isBuilt(set)) return
    // Holding the lock, any partial build of this set is left over from a build that was killed.
    for (const name of await readdir(cfg.cacheRoot)) {
      if (name.startsWith(`${basename(dir)}.partial-`)) await rm(join(cfg.cacheRoot, name), { recursive: true, force: true })
    }
    const partial = `${dir}.partial-${process.pid}`
    await mkdir(join(partial, 'bin'), { recursive: true })
    const started = Date.now()
    log(`${label}: building with ${go.version} into ${dir} (later runs reuse it)`)
    try {
      for (const step of set.builds(join(partial, 'bin'))) {
        await goBuild(go.go, join(set.source, step.module), step.args, `${label}: go build ${step.what}`, log)
      }
      for (const name of set.binaries) {
        if (!existsSync(join(partial, 'bin', name))) throw new Error(`${label}: go build did not produce ${name}`)
      }
      const manifest = {
        ...set.manifest,
        go: go.version,
        builtAt: new Date().toISOString(),
        seconds: Math.round((Date.now() - started) / 1000),
      }
      await writeFile(join(partial, 'tools.json'), `${JSON.stringify(manifest, null, 2)}\n`)
      await rm(dir, { recursive: true, force: true })
      await rename(partial, dir)
    } catch (err) {
      await rm(partial, { recursive: true, force: true })
      throw err
    }
    log(`${label}: built in ${formatDuration(Date.now() - started)}`)
  } finally {
    await release()
  }
}

/** Environment for the go command: no toolchain downloads, no cgo (static binaries, no C compiler needed). */
function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-mod=readonly -trimpath -buildvcs=false' }
}

function goBuild(go: string, cwd: string, args: string[], what: string, log: (line: string) => void): Promise<void> {
  const started = Date.now()
  log(what)
  return new Promise((resolve, reject) => {
    const child = spawn(go, ['build', ...args], { cwd, env: goEnv(), stdio: ['ignore', 'inherit', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      process.stderr.write(chunk)
    })
    // go build is silent for minutes on a cold cache; say it is alive so CI logs do not look hung.
    const heartbeat = setInterval(() => log(`${what}: still building (${formatDuration(Date.now() - started)})`), 60_000)
    const finish = (err?: Error) => {
      clearInterval(heartbeat)
      if (err) reject(err)
      else resolve()
    }
    child.on('error', (err) => finish(new Error(`${what}: cannot run ${go}: ${err.message}`)))
    child.on('exit', (code, signal) => {
      if (code === 0) return finish()
      finish(new Error(`${what} failed (${signal ?? `exit ${code}`}) in ${cwd}:\n${stderr.trim().split('\n').slice(-30).join('\n')}`))
    })
  })
}

/** Takes an exclusive lock (a folder holding the owner's pid); a lock whose owner died is taken over. */
export async function lock(path: string, label: string, log: (line: string) => void): Promise<() => Promise<void>> {
  let waiting = false
  for (;;) {
    try {
      await mkdir(path)
      await writeFile(join(path, 'pid'), String(process.pid))
      return () => rm(path, { recursive: true, force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = Number(await readFile(join(path, 'pid'), 'utf8').catch(() => ''))
    // No pid a minute after the folder appeared: its owner died between mkdir and writeFile.
    const orphaned = !owner && Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0) > 60_000
    if ((owner && !isAlive(owner)) || orphaned) {
      await rm(path, { recursive: true, force: true })
      continue
    }
    if (!waiting) log(`${label}: waiting for the build running in process ${owner || '(starting)'}`)
    waiting = true
    await new Promise((r) => setTimeout(r, 2000))
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}
