// A real MLflow tracking server (PyPI `mlflow`, pinned in test/tools/mlflow/requirements.txt) on
// 127.0.0.1 with a SQLite backend, and its Python client. The virtualenv is installed once and
// cached by test/tools/python-venv.ts (in `pretest`, or by the first test that needs it).
//
//   const mlflow = await useMlflow(t)           // undefined: the file was skipped (no Python); fails in CI
//   const server = await mlflow.serve(t)        // http://127.0.0.1:<port>
//   await mlflow.python(t, 'import mlflow; ...', { MLFLOW_TRACKING_URI: server.url })
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TAP } from 'tap'
import { harnessConfig, type HarnessConfig } from '../tools/go-build.js'
import { findPython, installVenv, isInstalled, type PythonVenv, venvFolder } from '../tools/python-venv.js'
import type { TapTest } from './cli.js'
import { freePort } from './ports.js'

const requirements = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'mlflow', 'requirements.txt')

export async function mlflowVenv(cfg: HarnessConfig, pythonVersion: string): Promise<PythonVenv> {
  const dir = await venvFolder(cfg, 'mlflow', requirements, pythonVersion)
  return { label: 'mlflow', purpose: 'the MLflow server of the event-source tests', requirements, dir, python: join(dir, 'bin', 'python') }
}

export interface MlflowServer {
  url: string
  port: number
  /** Stops it (teardown does too); the SQLite file stays, so `restart` brings the same registry back. */
  stop(): Promise<void>
  restart(): Promise<void>
}

export interface MlflowTool {
  venv: PythonVenv
  serve(t: TapTest, env?: Record<string, string>): Promise<MlflowServer>
  /** Runs a Python script in the virtualenv; resolves to its stdout, rejects with its stderr. */
  python(script: string, env?: Record<string, string>): Promise<string>
}

/** The environment MLflow needs to send webhooks to a loopback receiver quickly. */
export const MLFLOW_WEBHOOK_ENV = {
  MLFLOW_WEBHOOK_ALLOWED_SCHEMES: 'http,https',
  MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS: 'true',
  MLFLOW_WEBHOOK_CACHE_TTL: '1',
  // A fixed key: the secrets MLflow stores stay readable across a restart.
  MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY: 'aG9va3dpc2UtdGVzdC1rZXktMzItYnl0ZXMtbG9uZyE=',
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
}

/** The installed MLflow, or undefined after skipping the file (failing it in CI) when Python is missing. */
export async function useMlflow(t: TAP): Promise<MlflowTool | undefined> {
  const cfg = harnessConfig()
  const python = findPython()
  if (!python.ok) {
    if (cfg.ci) t.fail(`the MLflow tests must run in CI, but: ${python.reason}`)
    else t.plan(0, `MLflow tests skipped: ${python.reason}`)
    return undefined
  }
  const venv = await mlflowVenv(cfg, python.version)
  if (!isInstalled(venv)) {
    t.comment('MLflow is not installed yet; installing it now (`npm test` does this in pretest)')
    await installVenv(cfg, venv, python.python, (line) => console.error(line))
  }
  const pythonIn = (script: string, env: Record<string, string> = {}) => runPython(venv.python, script, env)
  return { venv, serve: (t, env) => serve(t, venv, env ?? {}), python: pythonIn }
}

function runPython(python: string, script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    child.on('error', reject)
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`python exited ${code}:\n${stderr.trim().split('\n').slice(-20).join('\n')}`)),
    )
  })
}

async function serve(t: TapTest, venv: PythonVenv, env: Record<string, string>): Promise<MlflowServer> {
  const dir = await mkdtemp(join(tmpdir(), 'hookwise-mlflow-'))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let child: ReturnType<typeof spawn> | undefined
  let log = ''
  const start = async () => {
    const args = ['-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', String(port), '--workers', '1']
    args.push('--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`, '--default-artifact-root', join(dir, 'artifacts'))
    child = spawn(venv.python, args, {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...MLFLOW_WEBHOOK_ENV, ...env },
    })
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (log += c))
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (log += c))
    const deadline = Date.now() + 300_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mlflow server exited (${child.exitCode}):\n${log.slice(-3000)}`)
      const ok = await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) return
      if (Date.now() > deadline) throw new Error(`mlflow server did not answer /health in 300s:\n${log.slice(-3000)}`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
  const stop = async () => {
    const c = child
    if (!c || c.exitCode !== null || c.signalCode !== null) return
    const gone = new Promise((r) => c.once('exit', r))
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000)
    await gone
    clearTimeout(timer)
  }
  // The server's own workers must not outlive this process.
  const onExit = () => child?.kill('SIGKILL')
  process.once('exit', onExit)
  t.teardown(async () => {
    process.removeListener('exit', onExit)
    await stop()
    await rm(dir, { recursive: true, force: true })
  })
  await start()
  return {
    url,
    port,
    stop,
    restart: async () => {
      await stop()
      await start()
    },
  }
}
