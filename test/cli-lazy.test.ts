// The command line loads only what the command it runs needs (issue 22): `hookwise validate` and
// `hookwise run --dir` are ready sooner without the Kubernetes client (about a second of CPU to load).
// A real child process; a module resolve hook records every module it loads.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import type { TapTest } from './helpers/cli.js'

const MANIFEST = `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: hook}
spec:
  url: https://example.com/hook
`

/** Runs `hookwise ARGS` and returns its exit code, output and the URLs of every module it resolved. */
async function loaded(
  t: TapTest,
  args: (dir: string) => string[],
  until?: RegExp,
): Promise<{ code: number | null; out: string; modules: string[] }> {
  const dir = t.testdir({
    'hooks.mjs': `import { appendFileSync } from 'node:fs'
export async function resolve(specifier, context, next) {
  const found = await next(specifier, context)
  appendFileSync(process.env.LOADED_LOG, found.url + '\\n')
  return found
}
`,
    'register.mjs': `import { register } from 'node:module'
register('./hooks.mjs', import.meta.url)
`,
    manifests: { 'hooks.yaml': MANIFEST },
    'loaded.log': '',
  })
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', join(dir, 'register.mjs'), 'controller/cli/main.ts', ...args(dir)],
    {
      env: { ...process.env, LOADED_LOG: join(dir, 'loaded.log') },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (until?.test(out)) child.kill('SIGTERM')
  })
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, out, modules: readFileSync(join(dir, 'loaded.log'), 'utf8').split('\n').filter(Boolean) }
}

const kubernetesClient = (modules: string[]): string[] => modules.filter((m) => m.includes('/@kubernetes/client-node/'))

t.test('hookwise validate loads neither the Kubernetes client nor the other commands', async (t) => {
  const { code, out, modules } = await loaded(t, (dir) => ['validate', join(dir, 'manifests')])
  t.equal(code, 0, out)
  t.equal(out, 'valid\n')
  t.same(kubernetesClient(modules), [], 'no module of @kubernetes/client-node')
  t.same(
    modules.filter((m) => /\/controller\/cli\/(run|check|diff|plan|history)\.ts$/.test(m)),
    [],
    'no other command module',
  )
})

t.test('hookwise run --dir is ready without the Kubernetes client', async (t) => {
  const { out, modules } = await loaded(
    t,
    (dir) => ['run', '--dir', join(dir, 'manifests'), '--state', join(dir, 'state'), '--listen', '127.0.0.1:0'],
    /hookwise is running/,
  )
  t.match(out, /"webhooks":1,"automations":0/)
  t.match(out, /hookwise is running/)
  t.same(kubernetesClient(modules), [], 'no module of @kubernetes/client-node')
})

t.test('hookwise --help still lists every command', async (t) => {
  const { code, out } = await loaded(t, () => ['--help'])
  t.equal(code, 0)
  for (const name of ['validate', 'run', 'check', 'diff', 'plan', 'deliveries', 'get', 'test', 'sources', 'import'])
    t.match(out, new RegExp(`\\n  ${name}\\b`), `lists ${name}`)
})
