// `hookwise run --git` in this process for tests: the controller with a loopback API and a receiver,
// manifests to commit, and a client of its API (test/git-source.test.ts, test/git-ssh.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { startController, type RunOptions } from '../../controller/app/start-controller.js'
import { createLogger } from '../../controller/log.js'
import type { TapTest } from './cli.js'
import { startReceiver, type Receiver } from './receiver.js'

export const TOKEN = 'intake-token-0123456789'

export const webhookYaml = (url: string): string => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: ${url}
`
export const automationYaml = (name: string, type = 'LINK_ARTIFACT'): string => `apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: ${name}}
spec:
  scope: {type: Registry, registry: model}
  event: {type: ${type}}
  action: {webhook: hook, payload: {version: "\${artifact_version_string}", by: ${name}}}
`
export const event = (id: string): Record<string, unknown> => ({
  id,
  type: 'LINK_ARTIFACT',
  author: 'alice',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
})

export interface Running {
  /** The --state folder. */
  state: string
  receiver: Receiver
  logs: string[]
  status(): Promise<any>
  sync(): Promise<{ status: number; json: any }>
  emit(id: string): Promise<number>
}

export async function run(t: TapTest, options: Partial<RunOptions> & { git: string }, receiver?: Receiver): Promise<Running> {
  receiver ??= await startReceiver(t)
  const root = mkdtempSync(join(tmpdir(), 'hookwise-run-git-'))
  writeFileSync(join(root, 'token'), `${TOKEN}\n`)
  const logs: string[] = []
  const state = options.state ?? join(root, 'state')
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  const controller = await startController(
    {
      branch: 'main',
      path: 'hooks',
      interval: 60_000,
      state,
      listen: '127.0.0.1:0',
      intakeTokenFile: join(root, 'token'),
      allowInsecureHttp: true,
      egressAllow: ['127.0.0.0/8'],
      logLevel: 'info',
      durability: 'normal',
      maxPending: 1000,
      retentionHours: 24,
      ...options,
    },
    createLogger({ level: 'debug', destination: sink }),
    { PATH: process.env.PATH, HOME: root },
  )
  t.teardown(async () => {
    await controller.stop()
    rmSync(root, { recursive: true, force: true })
  })
  const base = `http://127.0.0.1:${controller.address.port}`
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
  return {
    state,
    receiver,
    logs,
    status: async () => (await request(`${base}/v1/status`, { headers })).body.json(),
    sync: async () => {
      const res = await request(`${base}/v1/sync`, { method: 'POST', headers })
      return { status: res.statusCode, json: await res.body.json() }
    },
    emit: async (id) => {
      const res = await request(`${base}/v1/events`, { method: 'POST', headers, body: JSON.stringify(event(id)) })
      await res.body.text()
      return res.statusCode
    },
  }
}

export const names = (status: any): string[] => status.automations.map((a: { name: string }) => a.name)
