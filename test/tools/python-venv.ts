// Python programs the tests run (today: a real MLflow server), installed from PyPI into a virtualenv
// cached outside the repository, one folder per requirements file and Python:
//
//   ~/.cache/hookwise-k8s/<name>_<hash>/        (a virtualenv; bin/python runs it)
//
// The hash covers the requirements file (every package pinned, so a clean machine installs the
// same versions) and the Python version, so editing a pin leads to a new folder and a new install;
// anything else reuses the folder. A virtualenv cannot be moved (its scripts name their folder), so
// it is installed in place and counts as built once `venv.json` is written, last.

import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatDuration, type HarnessConfig, lock } from './go-build.js'

/** One virtualenv: the packages of one requirements file. */
export interface PythonVenv {
  /** Prefix of the log lines, e.g. `mlflow`. */
  label: string
  /** What the set is, for messages: "Python 3 ... is needed for <purpose>". */
  purpose: string
  /** The pinned requirements (pip's `-r` file). */
  requirements: string
  /** The cache folder: the virtualenv. */
  dir: string
  /** The Python that runs in it. */
  python: string
}

export type PythonStatus = { ok: true; python: string; version: string } | { ok: false; reason: string }

/** The Python 3 that builds virtualenvs: `HOOKWISE_PYTHON`, else `python3` from PATH; 3.10 or newer. */
export function findPython(env: NodeJS.ProcessEnv = process.env): PythonStatus {
  const python = env.HOOKWISE_PYTHON || 'python3'
  const result = spawnSync(python, ['-c', 'import sys, venv; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' })
  if (result.error || result.status !== 0) {
    const why = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'not found on PATH' : 'has no venv module'
    return { ok: false, reason: `Python 3 (${python}) ${why}` }
  }
  const version = result.stdout.trim()
  const [major, minor] = version.split('.').map(Number)
  if (major !== 3 || (minor ?? 0) < 10) return { ok: false, reason: `Python ${version} (${python}) is too old (needs 3.10 or newer)` }
  return { ok: true, python, version }
}

/** `<cacheRoot>/<name>_<hash>`: the hash covers the requirements file and the Python version. */
export async function venvFolder(cfg: HarnessConfig, name: string, requirements: string, pythonVersion: string): Promise<string> {
  const hash = createHash('sha256')
    .update(await readFile(requirements))
    .update('\0')
    .update(pythonVersion)
  return join(cfg.cacheRoot, `${name}_${hash.digest('hex').slice(0, 10)}`)
}

export function isInstalled(venv: PythonVenv): boolean {
  return existsSync(join(venv.dir, 'venv.json'))
}

/** Installs the virtualenv unless it is there; concurrent callers wait for one install (a lock folder). */
export async function installVenv(cfg: HarnessConfig, venv: PythonVenv, base: string, log: (line: string) => void): Promise<void> {
  if (isInstalled(venv)) return
  await mkdir(cfg.cacheRoot, { recursive: true })
  const release = await lock(`${venv.dir}.lock`, venv.label, log)
  try {
    if (isInstalled(venv)) return
    // Holding the lock, a folder without venv.json is left over from an install that was killed.
    await rm(venv.dir, { recursive: true, force: true })
    const started = Date.now()
    log(`${venv.label}: installing ${venv.purpose} from PyPI into ${venv.dir} (later runs reuse it)`)
    try {
      await runStep(base, ['-m', 'venv', venv.dir], `${venv.label}: python -m venv`, log)
      const pip = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet']
      await runStep(venv.python, [...pip, '-r', venv.requirements], `${venv.label}: pip install -r ${venv.requirements}`, log)
      const manifest = {
        requirements: venv.requirements,
        installedAt: new Date().toISOString(),
        seconds: Math.round((Date.now() - started) / 1000),
      }
      await writeFile(join(venv.dir, 'venv.json'), `${JSON.stringify(manifest, null, 2)}\n`)
    } catch (err) {
      await rm(venv.dir, { recursive: true, force: true })
      throw err
    }
    log(`${venv.label}: installed in ${formatDuration(Date.now() - started)}`)
  } finally {
    await release()
  }
}

/** Runs one install step, its stderr passed through and kept for the error; a heartbeat each minute. */
export function runStep(cmd: string, args: string[], what: string, log: (line: string) => void): Promise<void> {
  const started = Date.now()
  log(what)
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'pipe'], env: { ...process.env, PIP_NO_WARN_SCRIPT_LOCATION: '1' } })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      process.stderr.write(chunk)
    })
    // pip is silent for minutes on a cold cache; say it is alive so CI logs do not look hung.
    const heartbeat = setInterval(() => log(`${what}: still installing (${formatDuration(Date.now() - started)})`), 60_000)
    const finish = (err?: Error) => {
      clearInterval(heartbeat)
      if (err) reject(err)
      else resolve()
    }
    child.on('error', (err) => finish(new Error(`${what}: cannot run ${cmd}: ${err.message}`)))
    child.on('exit', (code, signal) => {
      if (code === 0) return finish()
      finish(new Error(`${what} failed (${signal ?? `exit ${code}`}):\n${stderr.trim().split('\n').slice(-30).join('\n')}`))
    })
  })
}
