// The README's "Run on Kubernetes" walk-through, run as written: `npm run k8s:up` for real, its two
// export lines, then the second code block in bash. Only what a shared test machine needs changes:
// free ports instead of 9000 and 8080 (and --listen for the latter), a temp folder to run in (with
// crds/ linked), and `npx hookwise` running this checkout's source (no dist/ build needed).
import { spawn } from 'node:child_process'
import { readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { parseTable } from './helpers/kube.js'
import { freePort } from './helpers/ports.js'
import { useTools } from './k8s/fixture.js'

const root = join(import.meta.dirname, '..')

/** The shell code blocks of the README section `heading`. */
function sectionBlocks(heading: string): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const start = readme.indexOf(`\n## ${heading}\n`)
  const end = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, end === -1 ? undefined : end)
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!)
}

const tools = await useTools(t)

if (tools) {
  t.test('README: Run on Kubernetes, from npm run k8s:up to kubectl get automations -o wide', async (t) => {
    const [up, walk] = sectionBlocks('Run on Kubernetes')
    t.match(up, /^npm run k8s:up\b/, 'the section starts with npm run k8s:up')
    t.ok(walk, 'and a walk-through block follows')

    const k8sUp = spawn('npm', ['run', '--silent', 'k8s:up'], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    const upExited = new Promise((resolve) => k8sUp.on('exit', resolve))
    t.teardown(async () => {
      const signal = (sig: NodeJS.Signals) => {
        try {
          process.kill(-k8sUp.pid!, sig) // npm and the control plane, as Ctrl-C in its terminal
        } catch {}
      }
      signal('SIGINT')
      const stopped = await Promise.race([upExited.then(() => true), new Promise((r) => setTimeout(() => r(false), 20_000))])
      if (!stopped) signal('SIGKILL') // the control plane's reaper cleans up then
      k8sUp.stdout!.destroy()
      k8sUp.stderr!.destroy()
    })
    let printed = ''
    k8sUp.stdout!.setEncoding('utf8').on('data', (c: string) => (printed += c))
    const deadline = Date.now() + 180_000
    while (!/^export PATH=.*$/m.test(printed)) {
      if (k8sUp.exitCode !== null || Date.now() > deadline) throw new Error(`k8s:up did not come up:\n${printed}`)
      await new Promise((r) => setTimeout(r, 200))
    }
    const exports = printed.split('\n').filter((l) => l.startsWith('export '))
    t.equal(exports.length, 2, 'two export lines, KUBECONFIG and PATH')

    const [listenPort, apiPort] = [await freePort(), await freePort()]
    const script = walk!
      .replaceAll('9000', String(listenPort))
      .replace('npx hookwise run --kubernetes', `npx hookwise run --listen 127.0.0.1:${apiPort} --kubernetes`)
      .replaceAll('127.0.0.1:8080', `127.0.0.1:${apiPort}`)
    const cwd = t.testdir({})
    symlinkSync(join(root, 'crds'), join(cwd, 'crds'))
    const tsx = import.meta.resolve('tsx')
    const main = join(root, 'controller', 'cli', 'main.ts')
    const prelude = [
      'set -euo pipefail',
      `npx() { if [ "$1" = hookwise ]; then shift; node --import ${tsx} ${main} "$@"; else command npx "$@"; fi; }`,
      ...exports,
    ].join('\n')
    // Its own process group: whatever it left running in the background is stopped with the group.
    const bash = spawn('bash', ['-c', `${prelude}\n${script}`], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    t.teardown(() => {
      try {
        process.kill(-bash.pid!, 'SIGTERM')
      } catch {}
    })
    let out = ''
    bash.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
    bash.stderr.setEncoding('utf8').on('data', (c: string) => (out += c))
    const code = await new Promise<number | null>((resolve) => bash.on('exit', resolve))
    t.equal(code, 0, out)

    t.match(out, /^all checks passed$/m, 'hookwise check passes')
    t.match(out, /^event \S+: accepted, 1 delivery$/m, 'the event is accepted with one delivery')
    t.match(out, /^\{"model": "acme\/p\/churn:production", "by": "alice"\}$/m, 'the listener printed the body, byte for byte')
    const table = out.slice(out.lastIndexOf('NAME '))
    t.comment(`$ kubectl -n ml-team get automations -o wide\n${table}`)
    t.match(parseTable(table).rows, [
      {
        NAME: 'notify-production',
        READY: 'True',
        REASON: 'Valid',
        EVENT: 'ADD_ARTIFACT_ALIAS',
        WEBHOOK: 'local-listener',
        'LAST DELIVERY': /^\d+s$/,
        MESSAGE: 'fires on ADD_ARTIFACT_ALIAS and delivers to Webhook local-listener',
      },
    ])
  })
}
