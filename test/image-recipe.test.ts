// The container image's recipe as written: the Dockerfile's final stage (which `npm run image` also
// runs, on its own base; test/image.test.ts builds and runs that image), and its build and deps
// stages replayed in temporary folders with the files they COPY and the commands they RUN (their
// node:20-bookworm base is out of reach here). The assembled /app then runs `hookwise run` as the
// image's user (65532) with production dependencies only: a runtime import of a devDependency, or
// a file the image does not copy, fails here. What this cannot show: that `docker build` succeeds.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { request } from 'undici'
import { until } from './helpers/until.js'

const root = resolve(import.meta.dirname, '..')
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')

interface Instruction {
  op: string
  args: string
}
interface Stage {
  from: string
  name?: string
  steps: Instruction[]
}

/** Dockerfile instructions per stage (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l && !l.startsWith('#'))
  const stages: Stage[] = []
  for (const line of lines) {
    const [, op, args] = /^(\w+)\s+(.*)$/.exec(line)!
    if (op!.toUpperCase() === 'ARG' && stages.length === 0) continue // the global ARG BASE
    if (op!.toUpperCase() === 'FROM') {
      const [from, , name] = args!.split(/\s+/)
      stages.push({ from: from!, ...(name ? { name } : {}), steps: [] })
    } else stages.at(-1)!.steps.push({ op: op!.toUpperCase(), args: args! })
  }
  return stages
}

const stages = parseDockerfile(dockerfile)
const stage = (name: string): Stage => stages.find((s) => s.name === name)!
const run = (cmd: string, args: string[], cwd: string): void => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} in ${cwd} exited ${r.status}: ${r.stderr || r.error}`)
}

t.test('the final stage: BASE (distroless by default), non-root, no RUN (no shell), exec-form entry point, OCI labels', async (t) => {
  t.same(
    stages.map((s) => s.name ?? s.from),
    ['build', 'deps', '${BASE}'],
  )
  t.match(dockerfile, /^ARG BASE=gcr\.io\/distroless\/nodejs20-debian12:nonroot$/m)
  const final = stages.at(-1)!
  t.same(
    final.steps.filter((s) => s.op === 'RUN'),
    [],
    'nothing runs in the final stage: it has no shell',
  )
  t.same(
    final.steps.filter((s) => s.op === 'USER').map((s) => s.args),
    ['65532:65532'],
  )
  t.same(JSON.parse(final.steps.find((s) => s.op === 'ENTRYPOINT')!.args), ['/nodejs/bin/node', '/app/dist/controller/cli/main.js'])
  t.same(
    final.steps.filter((s) => s.op === 'COPY').map((s) => s.args),
    [
      '--from=deps /app/node_modules ./node_modules',
      '--from=deps /app/package.json ./package.json',
      '--from=deps /app/sbom.cdx.json ./sbom.cdx.json',
      '--from=build /src/dist/controller ./dist/controller',
      'crds ./crds',
    ],
  )
  const label = final.steps.find((s) => s.op === 'LABEL')!.args
  for (const [key, arg] of [
    ['version', 'VERSION'],
    ['revision', 'REVISION'],
    ['source', 'SOURCE'],
  ])
    t.ok(label.includes(`org.opencontainers.image.${key}="\${${arg}}"`), `label ${key} from the build argument ${arg}`)
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
  for (const p of ['.git', 'node_modules', 'dist', 'test', '.hookwise']) t.ok(ignored.includes(p), `.dockerignore leaves out ${p}`)
  t.ok(ignored.includes('!scripts/image/prune.mjs'), 'the deps stage gets prune.mjs')
})

t.test('replayed stages: production dependencies only, as user 65532, hookwise run takes an event', async (t) => {
  // Outside the checkout: Node.js looks for packages in every parent folder's node_modules, and the
  // checkout's would hide a package missing from the image.
  const dir = mkdtempSync(join(tmpdir(), 'hookwise-image-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  chmodSync(dir, 0o755) // mkdtemp makes it 0700; the image's user must reach /app
  mkdirSync(join(dir, 'state'))
  // build: only what the stage copies, compiled with the stage's command.
  const src = join(dir, 'src')
  mkdirSync(src)
  const build = stage('build').steps
  t.same(
    build.filter((s) => s.op === 'COPY').map((s) => s.args),
    ['package.json package-lock.json ./', 'tsconfig.json tsconfig.build.json ./', 'controller ./controller'],
  )
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'controller'])
    cpSync(join(root, f), join(src, f), { recursive: true })
  t.ok(build.some((s) => s.op === 'RUN' && s.args === 'npx tsc -p tsconfig.build.json'))
  // The stage's `npm ci` installs the same locked packages the checkout has; they are reused here.
  cpSync(join(root, 'node_modules'), join(src, 'node_modules'), { recursive: true, verbatimSymlinks: true })
  run(process.execPath, [join(src, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], src)

  // deps: `npm ci --omit=dev --ignore-scripts`, better-sqlite3's install script, the prune, the SBOM.
  const app = join(dir, 'app')
  mkdirSync(app)
  const deps = stage('deps').steps.find((s) => s.op === 'RUN')!.args
  t.equal(
    deps,
    'npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3 && node /tmp/prune.mjs node_modules && npm pkg delete devDependencies && npm sbom --omit=dev --sbom-format=cyclonedx > sbom.cdx.json && npm cache clean --force',
  )
  t.ok(stage('deps').steps.some((s) => s.op === 'COPY' && s.args === 'scripts/image/prune.mjs /tmp/prune.mjs'))
  for (const f of ['package.json', 'package-lock.json']) cpSync(join(root, f), join(app, f))
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], app)
  // `npm rebuild better-sqlite3` compiles the same version for the same Node.js (minutes on two
  // cores); the checkout's build of it is that result.
  cpSync(join(root, 'node_modules/better-sqlite3/build'), join(app, 'node_modules/better-sqlite3/build'), { recursive: true })
  run(process.execPath, [join(root, 'scripts/image/prune.mjs'), 'node_modules'], app)
  t.ok(existsSync(join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')), 'the prune keeps the compiled module')
  t.notOk(existsSync(join(app, 'node_modules/better-sqlite3/deps')), "and drops SQLite's C sources")
  run('npm', ['pkg', 'delete', 'devDependencies'], app)
  const sbom = spawnSync('npm', ['sbom', '--omit=dev', '--sbom-format=cyclonedx'], { cwd: app, encoding: 'utf8' })
  t.equal(sbom.status, 0, sbom.stderr)
  const components = (JSON.parse(sbom.stdout) as { components: Array<{ name: string }> }).components.map((c) => c.name)
  t.ok(
    components.includes('better-sqlite3') && components.includes('ajv') && !components.includes('tsx'),
    'the SBOM lists what is installed',
  )
  // The lock marks what only the devDependencies need (`dev: true`): none of it is in the image.
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  const devOnly = Object.entries(lock.packages)
    .filter(([path, p]) => path && p.dev)
    .map(([path]) => path)
  t.ok(devOnly.includes('node_modules/tsx') && devOnly.includes('node_modules/typescript'))
  t.same(
    devOnly.filter((path) => existsSync(join(app, path))),
    [],
    'no dev-only package is installed',
  )
  t.ok(existsSync(join(app, 'node_modules/better-sqlite3')) && existsSync(join(app, 'node_modules/undici')))

  // final: the copies the last stage makes, then the entry point as the image's user.
  cpSync(join(src, 'dist/controller'), join(app, 'dist/controller'), { recursive: true })
  cpSync(join(root, 'crds'), join(app, 'crds'), { recursive: true })
  cpSync(join(root, 'examples'), join(dir, 'examples'), { recursive: true })
  const state = join(dir, 'state')
  chmodSync(state, 0o777)
  const asImageUser = process.getuid?.() === 0 ? { uid: 65532, gid: 65532 } : {}
  if (!('uid' in asImageUser)) t.comment('not root: the entry point runs as this user, not 65532')

  const missing = spawnSync(process.execPath, ['-e', "import('tsx').then(() => process.exit(0), () => process.exit(3))"], { cwd: app })
  t.equal(missing.status, 3, 'from /app, a devDependency cannot be imported')
  const help = spawnSync(process.execPath, [join(app, 'dist/controller/cli/main.js'), '--help'], { ...asImageUser, encoding: 'utf8' })
  t.equal(help.status, 0)
  t.match(help.stdout, /Usage: hookwise/)

  const child = spawn(
    process.execPath,
    [
      join(app, 'dist/controller/cli/main.js'),
      'run',
      '--dir',
      join(dir, 'examples'),
      '--secrets',
      join(dir, 'examples/secrets'),
      '--state',
      state,
      '--listen',
      '127.0.0.1:0',
      '--allow-insecure-http',
      '--egress-allow',
      '127.0.0.1/32',
    ],
    { ...asImageUser, cwd: app, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  let out = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c
  })
  child.stderr.on('data', (c: Buffer) => {
    out += c
  })
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "hookwise is running" line in 30 s:\n${out}`)), 30_000)
    const look = (): void => {
      const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*"msg":"hookwise is running"/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    child.stdout.on('data', look)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`hookwise run exited ${code}:\n${out}`))
    })
  })
  t.equal((await request(`${address}/readyz`)).statusCode, 200)
  const event = readFileSync(join(root, 'examples/events/link-artifact.json'), 'utf8')
  const res = await request(`${address}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: event })
  t.equal(res.statusCode, 202)
  const accepted = (await res.body.json()) as { events: Array<{ duplicate: boolean; deliveries: Array<{ id: string }> }> }
  t.match(accepted, { events: [{ duplicate: false }] })
  // The attempt goes out from the compiled sending thread (dist/controller/delivery/sender-thread.js);
  // nothing listens on the example's port, so it is recorded as a network error, and a thread that
  // failed to load would have logged an error line (checked below).
  const id = accepted.events[0]!.deliveries[0]!.id
  const attempts = await until(
    `an attempt of delivery ${id}`,
    async () => {
      const recorded = (
        (await (await request(`${address}/v1/deliveries/${id}`)).body.json()) as { attempts: Array<{ error: string | null }> }
      ).attempts
      return recorded.length > 0 ? recorded : undefined
    },
    10_000,
  )
  t.equal(attempts.length, 1, 'one attempt recorded')
  t.match(attempts[0]?.error, /^NETWORK: /)
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0)
  t.notMatch(out, /"level":(50|60)/, 'no error lines')
})
