// Builds and caches the Kubernetes tools the harness runs: kube-apiserver, kubectl, etcd, helm and
// a small certificate generator. They are compiled with the machine's Go from the wrapper modules
// in test/k8s/tools/ and cached outside the repository, one folder per set of versions:
//
//   ~/.cache/hookwise-k8s/k8s-v1.37.2_etcd-v3.6.16_helm-v3.22.0_<hash>/bin/
//
// The hash covers every file of the wrapper modules and the build flags, so editing a go.mod
// (a version bump) leads to a new folder and a rebuild; anything else reuses the folder.

import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const toolsSource = join(dirname(fileURLToPath(import.meta.url)), 'tools')

/** Environment the harness reads, parsed once. */
export interface HarnessConfig {
  /** `CI=true` (or any non-empty value but `false`/`0`): the Kubernetes tests must run. */
  ci: boolean
  /** `HOOKWISE_K8S=0` opts out locally (the tests skip); ignored in CI. */
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

export interface ToolVersions {
  kubernetes: string
  etcd: string
  helm: string
}

/** Paths of the built binaries. */
export interface Tools {
  dir: string
  versions: ToolVersions
  kubeApiserver: string
  kubectl: string
  etcd: string
  helm: string
  testcerts: string
}

const binaries = ['kube-apiserver', 'kubectl', 'testcerts', 'etcd', 'helm'] as const

/** Versions and cache folder of the tool set the wrapper modules describe (nothing is built). */
export async function toolSet(cfg: HarnessConfig): Promise<{ versions: ToolVersions; dir: string }> {
  const kubeMod = await readFile(join(toolsSource, 'kube', 'go.mod'), 'utf8')
  const etcdMod = await readFile(join(toolsSource, 'etcd', 'go.mod'), 'utf8')
  const helmMod = await readFile(join(toolsSource, 'helm', 'go.mod'), 'utf8')
  const versions: ToolVersions = {
    kubernetes: requiredVersion(kubeMod, 'k8s.io/kubernetes'),
    etcd: requiredVersion(etcdMod, 'go.etcd.io/etcd/server/v3'),
    helm: requiredVersion(helmMod, 'helm.sh/helm/v3'),
  }
  const hash = createHash('sha256')
  for (const file of await listFiles(toolsSource)) {
    hash
      .update(relative(toolsSource, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0')
  }
  hash.update(JSON.stringify(buildSteps(versions, helmMod, '')))
  const name = `k8s-${versions.kubernetes}_etcd-${versions.etcd}_helm-${versions.helm}_${hash.digest('hex').slice(0, 10)}`
  return { versions, dir: join(cfg.cacheRoot, name) }
}

function requiredVersion(goMod: string, module: string): string {
  const match = new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll('.', '\\.')}\\s+(v\\S+)`, 'm').exec(goMod)
  if (!match?.[1]) throw new Error(`test/k8s/tools: no "require ${module}" in go.mod`)
  return match[1]
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

/** The Go build invocations; `out` is the folder the binaries go to. */
function buildSteps(versions: ToolVersions, helmMod: string, out: string) {
  const [major, minor] = versions.kubernetes.replace(/^v/, '').split('.')
  // The same version stamps the Kubernetes and Helm makefiles set, so `kubectl version`,
  // the apiserver's /version and `helm version` report real versions.
  const kubeStamp = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${versions.kubernetes}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
  ])
  const helmK8s = requiredVersion(helmMod, 'k8s.io/client-go').replace(/^v0\./, '').split('.')[0]
  const helmStamp = [
    `-X helm.sh/helm/v3/internal/version.version=${versions.helm}`,
    ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [
      `-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`,
      `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${helmK8s}`,
    ]),
  ]
  return [
    {
      what: `kube-apiserver and kubectl (k8s.io/kubernetes ${versions.kubernetes})`,
      module: 'kube',
      args: [
        '-ldflags',
        ['-s -w', ...kubeStamp].join(' '),
        '-o',
        out + '/',
        './cmd/kube-apiserver',
        './cmd/kubectl',
        './cmd/testcerts',
      ],
    },
    {
      what: `etcd (go.etcd.io/etcd/server/v3 ${versions.etcd})`,
      module: 'etcd',
      args: ['-ldflags', '-s -w', '-o', join(out, 'etcd'), '.'],
    },
    {
      what: `helm (helm.sh/helm/v3 ${versions.helm})`,
      module: 'helm',
      args: ['-ldflags', ['-s -w', ...helmStamp].join(' '), '-o', join(out, 'helm'), 'helm.sh/helm/v3/cmd/helm'],
    },
  ]
}

export type GoStatus = { ok: true; go: string; version: string } | { ok: false; reason: string }

/** Whether a Go new enough for the wrapper modules is installed. */
export async function findGo(cfg: HarnessConfig): Promise<GoStatus> {
  const result = spawnSync(cfg.go, ['env', 'GOVERSION'], { encoding: 'utf8', env: goEnv() })
  if (result.error || result.status !== 0) {
    const why =
      (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'not found on PATH' : 'does not run'
    return { ok: false, reason: `Go (${cfg.go}) ${why}; it is needed to build kube-apiserver and etcd` }
  }
  const version = result.stdout.trim()
  const need = /^go\s+(\d+)\.(\d+)/m.exec(await readFile(join(toolsSource, 'kube', 'go.mod'), 'utf8'))
  const have = /^go(\d+)\.(\d+)/.exec(version)
  if (
    need &&
    have &&
    (Number(have[1]) < Number(need[1]) || (Number(have[1]) === Number(need[1]) && Number(have[2]) < Number(need[2])))
  ) {
    return {
      ok: false,
      reason: `${version} is too old to build Kubernetes ${(await toolSet(cfg)).versions.kubernetes} (needs go${need[1]}.${need[2]})`,
    }
  }
  return { ok: true, go: cfg.go, version }
}

/** `run`: build or reuse the tools; `skip`: one-line reason the Kubernetes tests cannot run here. */
export async function harnessStatus(cfg: HarnessConfig): Promise<{ run: true } | { run: false; reason: string }> {
  if (cfg.optedOut && !cfg.ci) return { run: false, reason: 'HOOKWISE_K8S=0 is set' }
  const go = await findGo(cfg)
  return go.ok ? { run: true } : { run: false, reason: go.reason }
}

/** The cached tools, or undefined when they have not been built yet. */
export async function cachedTools(cfg: HarnessConfig): Promise<Tools | undefined> {
  const { versions, dir } = await toolSet(cfg)
  return existsSync(join(dir, 'tools.json')) ? toolsIn(dir, versions) : undefined
}

function toolsIn(dir: string, versions: ToolVersions): Tools {
  const bin = (name: (typeof binaries)[number]) => join(dir, 'bin', name)
  return {
    dir,
    versions,
    kubeApiserver: bin('kube-apiserver'),
    kubectl: bin('kubectl'),
    etcd: bin('etcd'),
    helm: bin('helm'),
    testcerts: bin('testcerts'),
  }
}

/**
 * Returns the cached tools, building them first when missing. Concurrent callers (two test files,
 * or `npm test` next to `npm run k8s:up`) wait for one build through a lock folder.
 */
export async function ensureTools(cfg: HarnessConfig, log: (line: string) => void): Promise<Tools> {
  const cached = await cachedTools(cfg)
  if (cached) return cached
  const go = await findGo(cfg)
  if (!go.ok) throw new Error(go.reason)
  const { versions, dir } = await toolSet(cfg)
  await mkdir(cfg.cacheRoot, { recursive: true })
  const release = await lock(`${dir}.lock`, log)
  try {
    if (existsSync(join(dir, 'tools.json'))) return toolsIn(dir, versions)
    // Holding the lock, any partial build of this set is left over from a build that was killed.
    for (const name of await readdir(cfg.cacheRoot)) {
      if (name.startsWith(`${basename(dir)}.partial-`))
        await rm(join(cfg.cacheRoot, name), { recursive: true, force: true })
    }
    const partial = `${dir}.partial-${process.pid}`
    await mkdir(join(partial, 'bin'), { recursive: true })
    const helmMod = await readFile(join(toolsSource, 'helm', 'go.mod'), 'utf8')
    const started = Date.now()
    log(`k8s tools: building with ${go.version} into ${dir} (the first build takes a while; later runs reuse it)`)
    try {
      for (const step of buildSteps(versions, helmMod, join(partial, 'bin'))) {
        await goBuild(go.go, join(toolsSource, step.module), step.args, step.what, log)
      }
      for (const name of binaries) {
        if (!existsSync(join(partial, 'bin', name))) throw new Error(`k8s tools: go build did not produce ${name}`)
      }
      const manifest = {
        versions,
        go: go.version,
        builtAt: new Date().toISOString(),
        seconds: Math.round((Date.now() - started) / 1000),
      }
      await writeFile(join(partial, 'tools.json'), JSON.stringify(manifest, null, 2) + '\n')
      await rm(dir, { recursive: true, force: true })
      await rename(partial, dir)
    } catch (err) {
      await rm(partial, { recursive: true, force: true })
      throw err
    }
    log(`k8s tools: built in ${formatDuration(Date.now() - started)}`)
    return toolsIn(dir, versions)
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
  log(`k8s tools: go build ${what}`)
  return new Promise((resolve, reject) => {
    const child = spawn(go, ['build', ...args], { cwd, env: goEnv(), stdio: ['ignore', 'inherit', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      process.stderr.write(chunk)
    })
    // go build is silent for minutes on a cold cache; say it is alive so CI logs do not look hung.
    const heartbeat = setInterval(
      () => log(`k8s tools: still building ${what} (${formatDuration(Date.now() - started)})`),
      60_000,
    )
    const finish = (err?: Error) => {
      clearInterval(heartbeat)
      if (err) reject(err)
      else resolve()
    }
    child.on('error', (err) => finish(new Error(`k8s tools: cannot run ${go}: ${err.message}`)))
    child.on('exit', (code, signal) => {
      if (code === 0) return finish()
      finish(
        new Error(
          `k8s tools: go build ${what} failed (${signal ?? `exit ${code}`}) in ${cwd}:\n${stderr.trim().split('\n').slice(-30).join('\n')}`,
        ),
      )
    })
  })
}

/** Takes an exclusive lock (a folder holding the owner's pid); a lock whose owner died is taken over. */
async function lock(path: string, log: (line: string) => void): Promise<() => Promise<void>> {
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
    if (!waiting) log(`k8s tools: waiting for the build running in process ${owner || '(starting)'}`)
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
