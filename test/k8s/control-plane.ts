// A throwaway Kubernetes control plane: etcd and kube-apiserver on free loopback ports, a fresh
// PKI, and a kubeconfig for an admin in system:masters, all in one temp folder that stop()
// removes. There is no controller-manager or scheduler: objects are stored, validated and watched
// exactly as in a real cluster, but nothing reconciles built-in kinds (no pods run, namespace
// deletion never finishes, no default ServiceAccount is created).

import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { isAlive, type Tools } from './tools.js'

export interface ControlPlane {
  /** Temp folder holding the PKI, etcd data, logs and the kubeconfig; removed by stop(). */
  dir: string
  /** Kubeconfig for the admin user (client certificate in system:masters). */
  kubeconfig: string
  /** `https://127.0.0.1:<port>` */
  server: string
  /** etcd's client URL, `http://127.0.0.1:<port>` (its JSON gateway serves /v3/kv/compaction). */
  etcd: string
  /** Environment for kubectl/helm/clients: KUBECONFIG, and caches kept inside `dir`. */
  env: NodeJS.ProcessEnv
  /** etcd and kube-apiserver process ids. */
  pids: { etcd: number; apiserver: number }
  tools: Tools
  /** Runs the built kubectl against this control plane. */
  kubectl(args: string[], options?: RunOptions): Promise<RunResult>
  /** Runs the built helm against this control plane. */
  helm(args: string[], options?: RunOptions): Promise<RunResult>
  /** Stops both processes and removes `dir`; safe to call more than once. */
  stop(): Promise<void>
}

export interface RunOptions {
  input?: string
  timeoutMs?: number
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface StartOptions {
  /** Progress lines (ports, readiness); default: none. */
  log?: (line: string) => void
  /** How long to wait for etcd and then /readyz; default 120 s (a loaded 2-core machine is slow). */
  readyTimeoutMs?: number
  /** More kube-apiserver flags, e.g. `--watch-cache-sizes=automations.hookwise.dev#0`. */
  apiserverArgs?: string[]
}

const reaperPath = join(dirname(fileURLToPath(import.meta.url)), 'reaper.mjs')

export async function startControlPlane(tools: Tools, options: StartOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? (() => {})
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000
  const dir = await mkdtemp(join(tmpdir(), 'hookwise-k8s-'))
  const reaper = startReaper(dir)
  const processes: ChildProcess[] = []
  let stopped: Promise<void> | undefined

  const stop = () =>
    (stopped ??= (async () => {
      // The apiserver first, so it does not spend its shutdown retrying a vanished etcd.
      for (const child of [...processes].reverse()) await terminate(child)
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 })
      reaper.disarm()
    })())

  try {
    const pki = join(dir, 'pki')
    await mkdir(pki)
    const certs = await run(tools.testcerts, [pki])
    if (certs.code !== 0) throw new Error(`testcerts failed (exit ${certs.code}): ${certs.stderr}`)

    // A port found free may be taken before the server binds it; start again on new ports then.
    let etcd: Started | undefined
    for (let attempt = 1; !etcd; attempt++) {
      const clientPort = await freePort()
      const peerPort = await freePort()
      const url = `http://127.0.0.1:${clientPort}`
      const peer = `http://127.0.0.1:${peerPort}`
      const started = await startServer({
        name: 'etcd',
        dir,
        command: tools.etcd,
        args: [
          '--name=hookwise-test',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${url}`,
          `--advertise-client-urls=${url}`,
          `--listen-peer-urls=${peer}`,
          `--initial-advertise-peer-urls=${peer}`,
          `--initial-cluster=hookwise-test=${peer}`,
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        ready: () => httpGet(`${url}/health`).then((r) => r.status === 200 && r.body.includes('"health":"true"')),
        timeoutMs: readyTimeoutMs,
        attempt,
        processes,
        reaper,
      })
      if (started) etcd = { ...started, url }
    }
    log(`etcd ready on ${etcd.url} (pid ${etcd.pid})`)

    const client = {
      ca: await readFile(join(pki, 'ca.crt')),
      cert: await readFile(join(pki, 'admin.crt')),
      key: await readFile(join(pki, 'admin.key')),
    }
    let apiserver: Started | undefined
    for (let attempt = 1; !apiserver; attempt++) {
      const port = await freePort()
      const url = `https://127.0.0.1:${port}`
      const started = await startServer({
        name: 'kube-apiserver',
        dir,
        command: tools.kubeApiserver,
        args: [
          `--etcd-servers=${etcd.url}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          // The default endpoint reconciler refuses a loopback advertise address; nothing here needs the kubernetes Service's endpoints.
          '--endpoint-reconciler-type=none',
          `--secure-port=${port}`,
          `--cert-dir=${join(dir, 'apiserver-certs')}`,
          `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
          `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
          `--client-ca-file=${join(pki, 'ca.crt')}`,
          '--authorization-mode=RBAC',
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-account-key-file=${join(pki, 'sa.pub')}`,
          `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
          '--service-cluster-ip-range=10.96.0.0/16',
          '--allow-privileged=true',
          '--profiling=false',
          ...(options.apiserverArgs ?? []),
        ],
        // /readyz can pass a moment before the bootstrap controller has created "default".
        ready: async () =>
          (await httpGet(`${url}/readyz`, client)).status === 200 &&
          (await httpGet(`${url}/api/v1/namespaces/default`, client)).status === 200,
        timeoutMs: readyTimeoutMs,
        attempt,
        processes,
        reaper,
      })
      if (started) apiserver = { ...started, url }
    }
    log(`kube-apiserver ready on ${apiserver.url} (pid ${apiserver.pid})`)

    const kubeconfig = join(dir, 'kubeconfig')
    await writeFile(kubeconfig, kubeconfigYaml(apiserver.url, client), { mode: 0o600 })
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KUBECONFIG: kubeconfig,
      KUBECACHEDIR: join(dir, 'kube-cache'),
      KUBERC: 'off', // ignore a personal ~/.kube/kuberc (aliases, default flags)
      HELM_CACHE_HOME: join(dir, 'helm', 'cache'),
      HELM_CONFIG_HOME: join(dir, 'helm', 'config'),
      HELM_DATA_HOME: join(dir, 'helm', 'data'),
    }
    return {
      dir,
      kubeconfig,
      server: apiserver.url,
      etcd: etcd.url,
      env,
      pids: { etcd: etcd.pid, apiserver: apiserver.pid },
      tools,
      kubectl: (args, opts) => run(tools.kubectl, args, { ...opts, env }),
      helm: (args, opts) => run(tools.helm, args, { ...opts, env }),
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

interface Started {
  pid: number
  url: string
}

interface Reaper {
  watch(pid: number): void
  disarm(): void
}

/** Starts test/k8s/reaper.mjs, which cleans up if this process dies before stop() finishes. */
function startReaper(dir: string): Reaper {
  const child = spawn(process.execPath, [reaperPath], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] })
  child.unref()
  const stdin = child.stdin!
  ;(stdin as unknown as { unref?: () => void }).unref?.()
  stdin.on('error', () => {})
  stdin.write(`dir ${dir}\n`)
  return {
    watch: (pid) => void stdin.write(`pid ${pid}\n`),
    disarm: () => stdin.end('done\n'),
  }
}

/**
 * Starts one server with its output in `<dir>/<name>.log` and waits until `ready()`. Returns
 * undefined when it exited because its port was taken (the caller retries on other ports).
 */
async function startServer(spec: {
  name: string
  dir: string
  command: string
  args: string[]
  ready: () => Promise<boolean>
  timeoutMs: number
  attempt: number
  processes: ChildProcess[]
  reaper: Reaper
}): Promise<Omit<Started, 'url'> | undefined> {
  const logPath = join(spec.dir, `${spec.name}.log`)
  const fd = openSync(logPath, 'a')
  const child = spawn(spec.command, spec.args, { cwd: spec.dir, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  spec.processes.push(child)
  const exited = new Promise<string>((resolve) => {
    child.on('error', (err) => resolve(err.message))
    child.on('exit', (code, signal) => resolve(signal ?? `exit code ${code}`))
  })
  await new Promise<void>((resolve) => child.once('spawn', resolve).once('error', () => resolve()))
  if (child.pid) spec.reaper.watch(child.pid)

  const deadline = Date.now() + spec.timeoutMs
  let exitReason: string | undefined
  void exited.then((reason) => (exitReason = reason))
  while (exitReason === undefined) {
    if (await spec.ready().catch(() => false)) return { pid: child.pid! }
    if (Date.now() > deadline) {
      throw new Error(`${spec.name} was not ready after ${spec.timeoutMs / 1000}s; last lines of its log:\n${await logTail(logPath)}`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  const tail = await logTail(logPath)
  if (/address already in use/.test(tail) && spec.attempt < 5) return undefined
  throw new Error(`${spec.name} exited (${exitReason}) before it was ready; last lines of its log:\n${tail}`)
}

async function logTail(path: string, lines = 25): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await gone
  clearTimeout(timer)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

function httpGet(url: string, tls?: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest
    const req = request(url, { ...tls, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end()
  })
}

function kubeconfigYaml(server: string, client: { ca: Buffer; cert: Buffer; key: Buffer }): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'hookwise-test', cluster: { server, 'certificate-authority-data': client.ca.toString('base64') } }],
    users: [
      {
        name: 'hookwise-admin',
        user: {
          'client-certificate-data': client.cert.toString('base64'),
          'client-key-data': client.key.toString('base64'),
        },
      },
    ],
    contexts: [{ name: 'hookwise-test', context: { cluster: 'hookwise-test', user: 'hookwise-admin', namespace: 'default' } }],
    'current-context': 'hookwise-test',
  })
}

/** Runs a command to completion and collects its output (never rejects on a non-zero exit). */
function run(command: string, args: string[], options: RunOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.input ?? '')
  })
}

export { isAlive }
