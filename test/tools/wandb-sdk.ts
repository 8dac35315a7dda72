// The public W&B Python SDK (`wandb` from PyPI, pinned in test/tools/wandb/requirements.txt) in a
// cached virtualenv (test/tools/python-venv.ts, as MLflow's), and the JSON it writes for every
// automation it can build (test/tools/wandb/dump_automations.py, offline). `hookwise import wandb`
// is tested on that JSON, so the tests read what the real SDK produces, not a hand-written imitation.
//
//   ~/.cache/hookwise-k8s/wandb-sdk_<hash>/                     the virtualenv
//   ~/.cache/hookwise-k8s/wandb-sdk_<hash>/dumps-<hash>.json    the SDK's dumps, per dump script
//
// The virtualenv's hash covers the requirements and the Python version; the dumps' hash covers the
// script, so editing it writes new dumps in the same virtualenv. `pretest` builds both
// (test/k8s/build-tools.ts --for-tests); pip takes about two minutes on a cold cache.
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HarnessConfig } from './go-build.js'
import { installVenv, type PythonStatus, type PythonVenv, runStep, venvFolder } from './python-venv.js'

const source = join(dirname(fileURLToPath(import.meta.url)), 'wandb')
const script = join(source, 'dump_automations.py')

export interface WandbSdk {
  venv: PythonVenv
  /** The dumps' file: present once written (last, by rename). */
  dumps: string
}

/** Where the SDK's virtualenv and dumps are for this Python (from findPython, which must be ok). */
export async function wandbSdk(cfg: HarnessConfig, python: Extract<PythonStatus, { ok: true }>): Promise<WandbSdk> {
  const requirements = join(source, 'requirements.txt')
  const dir = await venvFolder(cfg, 'wandb-sdk', requirements, python.version)
  const scriptHash = createHash('sha256')
    .update(await readFile(script))
    .digest('hex')
    .slice(0, 10)
  return {
    venv: { label: 'wandb-sdk', purpose: 'the wandb SDK of the import tests', requirements, dir, python: join(dir, 'bin', 'python') },
    dumps: join(dir, `dumps-${scriptHash}.json`),
  }
}

/** Installs the SDK and writes its dumps unless the cache has them. */
export async function ensureWandbSdk(
  cfg: HarnessConfig,
  python: Extract<PythonStatus, { ok: true }>,
  log: (line: string) => void,
): Promise<WandbSdk> {
  const sdk = await wandbSdk(cfg, python)
  if (existsSync(sdk.dumps)) return sdk
  await installVenv(cfg, sdk.venv, python.python, log)
  await runStep(sdk.venv.python, [script, `${sdk.dumps}.tmp`], 'wandb-sdk: dumping automations', log)
  await rename(`${sdk.dumps}.tmp`, sdk.dumps)
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
