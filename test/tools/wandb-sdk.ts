// The public W&B Python SDK (`wandb` from PyPI, pinned in test/tools/wandb/requirements.txt) in a
// virtualenv cached outside the repository, and the JSON it writes for every automation it can
// build (test/tools/wandb/dump_automations.py, offline). `hookwise import wandb` is tested on that
// JSON, so the tests read what the real SDK produces, not a hand-written imitation of it.
//
//   ~/.cache/hookwise-k8s/wandb-sdk_<hash>/venv/        the virtualenv
//   ~/.cache/hookwise-k8s/wandb-sdk_<hash>/dumps.json   the SDK's dumps
//
// The hash covers test/tools/wandb/ (the pinned version and the script), so changing either builds a
// new folder. `pretest` builds it (test/k8s/build-tools.ts --for-tests); pip takes about two
// minutes on a cold cache. Needs python3 with venv; without it the tests that read the dumps skip,
// in CI they fail.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cacheFolder, type HarnessConfig } from './go-build.js'

const source = join(dirname(fileURLToPath(import.meta.url)), 'wandb')

export interface WandbSdk {
  dir: string
  dumps: string
}

/** `HOOKWISE_PYTHON`, else python3 from PATH. */
const python = (env: NodeJS.ProcessEnv = process.env): string => env.HOOKWISE_PYTHON || 'python3'

export async function wandbSdkFolder(cfg: HarnessConfig): Promise<WandbSdk> {
  const dir = await cacheFolder(cfg, 'wandb-sdk', source, [])
  return { dir, dumps: join(dir, 'dumps.json') }
}

/** Why the SDK cannot be installed here (no python3 with venv), or undefined when it can. */
export function pythonMissing(): string | undefined {
  const r = spawnSync(python(), ['-c', 'import venv, ensurepip'], { encoding: 'utf8' })
  if (r.error || r.status !== 0) return `${python()} with venv and ensurepip is needed to install the wandb SDK from PyPI`
  return undefined
}

function run(cmd: string, args: string[], what: string, log: (line: string) => void): Promise<void> {
  log(what)
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1' } })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c
    })
    child.on('error', (err) => reject(new Error(`${what}: ${err.message}`)))
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}):\n${stderr.trim().split('\n').slice(-20).join('\n')}`)),
    )
  })
}

/** Installs the SDK and writes its dumps unless the cache has them. */
export async function ensureWandbSdk(cfg: HarnessConfig, log: (line: string) => void): Promise<WandbSdk> {
  const sdk = await wandbSdkFolder(cfg)
  if (existsSync(sdk.dumps)) return sdk
  const missing = pythonMissing()
  if (missing) throw new Error(missing)
  // dumps.json is written last: a folder without it is an install that was cut short, made again.
  await rm(sdk.dir, { recursive: true, force: true })
  await mkdir(sdk.dir, { recursive: true })
  const started = Date.now()
  const venv = join(sdk.dir, 'venv')
  await run(python(), ['-m', 'venv', venv], `wandb-sdk: python3 -m venv ${venv}`, log)
  const py = join(venv, 'bin', 'python')
  await run(
    py,
    ['-m', 'pip', 'install', '--quiet', '-r', join(source, 'requirements.txt')],
    'wandb-sdk: pip install (about 2 minutes cold)',
    log,
  )
  await run(py, [join(source, 'dump_automations.py'), `${sdk.dumps}.tmp`], 'wandb-sdk: dumping automations', log)
  await rename(`${sdk.dumps}.tmp`, sdk.dumps)
  log(`wandb-sdk: ready in ${Math.round((Date.now() - started) / 1000)} s: ${sdk.dumps}`)
  return sdk
}

/** What the dump script writes. */
export interface WandbDumps {
  wandb: string
  cases: Array<{ name: string; new: Record<string, unknown>; graphql: Record<string, unknown>; saved: Record<string, unknown> }>
  integrations: Array<{ saved: Record<string, unknown>; graphql: Record<string, unknown> }>
}

export async function readWandbDumps(sdk: WandbSdk): Promise<WandbDumps> {
  return JSON.parse(await readFile(sdk.dumps, 'utf8')) as WandbDumps
}
