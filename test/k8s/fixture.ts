// tap fixture for tests against a real kube-apiserver:
//
//   import t from 'tap'
//   import { useControlPlane } from './k8s/fixture.js'
//   const cluster = await useControlPlane(t)
//   if (cluster) t.test('...', async (t) => { await cluster.kubectl(['get', 'ns']) })
//
// Without Go the file is skipped with a one-line reason; in CI (CI=true) that is a failure
// instead. Tools missing from the cache (a direct `npx tap` on a fresh machine; `npm test` builds
// them in `pretest`) are built first, with the file's timeout raised for the build. The control
// plane is stopped when the file's tests end, failed or not; if the test process is killed, the
// reaper process removes everything.

import type { TAP } from 'tap'
import { startControlPlane, type ControlPlane, type StartOptions } from './control-plane.js'
import { cachedTools, ensureTools, harnessConfig, harnessStatus, type Tools } from './tools.js'

export type { ControlPlane }

/** The built tools, or undefined after skipping the file (failing it in CI). */
export async function useTools(t: TAP): Promise<Tools | undefined> {
  const cfg = harnessConfig()
  const status = await harnessStatus(cfg)
  if (!status.run) {
    if (cfg.ci) t.fail(`the Kubernetes tests must run in CI, but: ${status.reason}`)
    else t.plan(0, `Kubernetes tests skipped: ${status.reason}`)
    return undefined
  }
  const cached = await cachedTools(cfg)
  if (cached) return cached
  t.setTimeout(90 * 60_000)
  t.comment('k8s tools are not built yet; building them now (`npm run k8s:tools` does this ahead of time)')
  return ensureTools(cfg, (line) => console.error(line))
}

/** A control plane for this test file, stopped in teardown; undefined when the file was skipped. */
export async function useControlPlane(t: TAP, options: Pick<StartOptions, 'apiserverArgs'> = {}): Promise<ControlPlane | undefined> {
  const tools = await useTools(t)
  if (!tools) return undefined
  const started = Date.now()
  const cluster = await startControlPlane(tools, options)
  t.teardown(() => cluster.stop())
  t.comment(`control plane ${cluster.server} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return cluster
}
