// The Kubernetes client is about 80 MB of resident memory (docs/performance.md#side-by-side-with-flux-notification-controller-npm-run-benchpeers):
// only `run --kubernetes`, `check` and `diff` load it. Every command line imports cli/main.ts (all
// commands) and `run` imports app/start-controller.ts; neither may resolve @kubernetes/client-node
// until a command needs it. Checked in a fresh Node process with a resolve hook that reports it.
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'

const root = join(import.meta.dirname, '..')

/** Imports `modules` in a fresh process; returns the URLs of the Kubernetes client it resolved. */
async function clientResolvedBy(modules: string[]): Promise<string[]> {
  const code = `${modules.map((m) => `await import(${JSON.stringify(`./${m}`)})`).join(';')}; console.log('imported')`
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', '--import', './test/helpers/resolve-trace.mjs', '--input-type=module', '-e', code],
    { cwd: root, env: { ...process.env, RESOLVE_TRACE: '@kubernetes/client-node' } },
  )
  if (!stdout.includes('imported')) throw new Error(`the imports did not finish: ${stderr}`)
  return stderr.split('\n').filter((l) => l.startsWith('resolved '))
}

t.test('the command line and run --dir do not load the Kubernetes client', async (t) => {
  t.same(await clientResolvedBy(['controller/cli/main.ts', 'controller/app/start-controller.ts']), [])
})

t.test('Kubernetes mode does (the check sees it)', async (t) => {
  const resolved = await clientResolvedBy(['controller/app/kubernetes-mode.ts'])
  t.ok(resolved.length > 0, `${resolved.length} modules of @kubernetes/client-node resolved`)
})
