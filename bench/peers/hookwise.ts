// hookwise as a contestant of bench/peers.bench.ts: `hookwise run` (the compiled dist/) with its
// defaults, on a folder (`--dir`, SQLite state) or on the custom resources of the harness's
// kube-apiserver (`--kubernetes`, one namespace, no leader election), delivering the Webhook +
// Automation of bench/events.ts to the benchmark's receiver.
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Pool } from 'undici'
import type { ControlPlane } from '../../test/k8s/control-plane.js'
import { BENCH_SECRET, benchManifests, eventBody } from '../events.js'
import { Child, type Contestant, freePort, sleep } from './contestant.js'

export interface HookwiseOptions {
  root: string
  /** Folder for manifests and state. */
  dir: string
  receiverUrl: string
  /** `--kubernetes` on this control plane in `namespace`; `--dir` without it. */
  cluster?: ControlPlane
  namespace?: string
  /** More `hookwise run` flags (BENCH_RUN_ARGS). */
  args?: string[]
  name?: string
}

// Retries after the receiver refused (the kill -9 measurement) come within 2 s rather than on the
// default schedule, so the run does not wait minutes for them; nothing else in the run is retried.
const WEBHOOK_SPEC = '  retry: {maxBackoffSeconds: 2}\n'
const JSON_HEADERS = { 'content-type': 'application/json' }

export async function startHookwise(
  o: HookwiseOptions,
  track: (c: ChildProcess) => void,
  probe: (c: Contestant) => Promise<void>,
): Promise<Contestant> {
  const manifests = benchManifests(o.receiverUrl, WEBHOOK_SPEC)
  const source: string[] = []
  if (o.cluster) {
    const ns = o.namespace ?? 'bench-hookwise'
    const crds = await o.cluster.kubectl(['apply', '-f', join(o.root, 'crds')])
    if (crds.code !== 0) throw new Error(`hookwise CRDs: ${crds.stderr}`)
    await o.cluster.kubectl([
      'wait',
      '--for=condition=Established',
      'crd/webhooks.hookwise.dev',
      'crd/automations.hookwise.dev',
      '--timeout=60s',
    ])
    const input = `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n---\n${BENCH_SECRET}---\n${manifests}`
    const applied = await o.cluster.kubectl(['apply', '-n', ns, '-f', '-'], { input })
    if (applied.code !== 0) throw new Error(`hookwise objects: ${applied.stderr}`)
    source.push('--kubernetes', '--kubeconfig', o.cluster.kubeconfig, '--namespace', ns, '--no-leader-elect')
  } else {
    mkdirSync(join(o.dir, 'manifests'), { recursive: true })
    mkdirSync(join(o.dir, 'secrets'), { recursive: true })
    writeFileSync(join(o.dir, 'manifests', 'bench.yaml'), manifests)
    writeFileSync(join(o.dir, 'secrets', 'secrets.yaml'), BENCH_SECRET)
    source.push('--dir', join(o.dir, 'manifests'), '--secrets', join(o.dir, 'secrets'))
  }
  const port = await freePort()
  // BENCH_FROM_SOURCE=1 runs controller/ through tsx (test/bench-peers.test.ts) instead of the built dist/.
  const args = [
    ...(process.env.BENCH_FROM_SOURCE
      ? ['--import', 'tsx', join(o.root, 'controller/cli/main.ts')]
      : [join(o.root, 'dist/controller/cli/main.js')]),
    'run',
    ...source,
    '--state',
    join(o.dir, 'state'),
    '--listen',
    `127.0.0.1:${port}`,
    '--allow-insecure-http',
    '--egress-allow',
    '127.0.0.1/32',
    ...(o.args ?? []),
  ]
  const child = new Child('hookwise run', process.execPath, args, process.env, track)
  const url = `http://127.0.0.1:${port}`
  const contestant: Contestant = {
    name: o.name ?? (o.cluster ? 'hookwise --kubernetes' : 'hookwise --dir'),
    url,
    pids: () => ({ self: child.pid, ...(o.cluster ? { apiserver: o.cluster.pids.apiserver, etcd: o.cluster.pids.etcd } : {}) }),
    async post(pool: Pool, phase: string, i: number, sentAt: number) {
      const res = await pool.request({ path: '/v1/events', method: 'POST', headers: JSON_HEADERS, body: eventBody(phase, i, sentAt) })
      const text = await res.body.text()
      if (res.statusCode !== 202) throw new Error(`hookwise answered ${res.statusCode}: ${text.slice(0, 300)}`)
    },
    kill: () => child.kill('SIGKILL'),
    async restart() {
      child.start()
      const started = Date.now()
      for (;;) {
        child.check()
        try {
          await probe(contestant)
          return
        } catch (err) {
          if (Date.now() - started > 60_000) throw new Error(`hookwise did not deliver within 60 s: ${(err as Error).message}`)
        }
        await sleep(250)
      }
    },
    stop: () => child.kill('SIGTERM'),
  }
  await contestant.restart()
  return contestant
}
