// `npm run k8s:up` (test/k8s/up.ts): prints a KUBECONFIG that works, and leaves nothing behind
// when interrupted with Ctrl-C (SIGINT) or killed outright (SIGKILL, where the reaper cleans up).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { useTools } from './k8s/fixture.js'
import { isAlive, type Tools } from './k8s/tools.js'
import { until } from './helpers/until.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

interface Up {
  child: ChildProcess
  kubeconfig: string
  pids: number[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stderr: () => string
}

/** Starts `k8s:up` and waits for its `export KUBECONFIG=` line. */
async function startUp(t: Test): Promise<Up> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test', 'k8s', 'up.ts')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => void child.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c))
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  const deadline = Date.now() + 180_000
  for (;;) {
    const match = /^export KUBECONFIG=(.+)$/m.exec(stdout)
    if (match) {
      const pids = [...stderr.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]))
      return { child, kubeconfig: match[1]!, pids, exited, stderr: () => stderr }
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`k8s:up did not come up:\n${stdout}\n${stderr}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

function checkWorks(t: Test, tools: Tools, up: Up) {
  t.equal(up.pids.length, 2, 'etcd and kube-apiserver pids are logged')
  const readyz = spawnSync(tools.kubectl, ['--kubeconfig', up.kubeconfig, 'get', '--raw', '/readyz'], {
    encoding: 'utf8',
  })
  t.equal(readyz.stdout, 'ok', readyz.stderr)
  const ns = spawnSync(tools.kubectl, ['--kubeconfig', up.kubeconfig, 'get', 'namespace', 'default', '-o', 'name'], {
    encoding: 'utf8',
  })
  t.equal(ns.stdout.trim(), 'namespace/default', ns.stderr)
}

const tools = await useTools(t)

if (tools) {
  t.test('k8s:up serves until Ctrl-C, then stops both servers and removes its folder', async (t) => {
    const up = await startUp(t)
    checkWorks(t, tools, up)
    up.child.kill('SIGINT')
    t.same(await up.exited, { code: 0, signal: null }, 'exits with 0 after SIGINT')
    t.match(up.stderr(), /stopped; removed /)
    for (const pid of up.pids) t.notOk(isAlive(pid), `pid ${pid} stopped`)
    t.notOk(existsSync(dirname(up.kubeconfig)), 'temp folder removed')
  })

  t.test('when k8s:up is killed outright, the reaper stops the servers and removes the folder', async (t) => {
    const up = await startUp(t)
    checkWorks(t, tools, up)
    up.child.kill('SIGKILL')
    t.same(await up.exited, { code: null, signal: 'SIGKILL' })
    t.ok(await until('etcd and kube-apiserver to stop', () => !up.pids.some(isAlive), 30_000, 200), 'etcd and kube-apiserver stopped')
    t.ok(await until('the temp folder to be removed', () => !existsSync(dirname(up.kubeconfig)), 30_000, 200), 'temp folder removed')
  })
}
