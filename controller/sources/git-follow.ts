// Follows a branch of a git repository as the desired state (`hookwise run --git`): a checkout in
// the state folder, fetched on an interval and on demand, reset to the fetched commit (a force-push
// is followed, never merged), and the manifests below `path` applied as one desired state. When the
// repository cannot be reached, the last applied state keeps serving and fetches back off.
// Credentials reach git through its environment only: never in argv, logs or status.
import { existsSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path'
import { simpleGit, type SimpleGit } from 'simple-git'
import { UsageError } from '../errors.js'
import type { Logger } from '../log.js'
import { emptyState, type DesiredStateSource } from './desired-state-source.js'
import { logDiagnostics } from './log-diagnostics.js'
import { LoadCache, loadDesiredState, type LoadedState } from './load.js'

export interface GitSourceOptions {
  /** Repository URL (https://, ssh://, git://, scp-like or a local path); no embedded credentials. */
  url: string
  branch: string
  /** Folder of the manifests inside the repository; '' or '.' is the root. */
  path: string
  /** Milliseconds between fetches. */
  intervalMs: number
  /** Secret manifests outside the repository (secret values never need to be in git). */
  secrets: readonly string[]
  /** Private key for ssh:// and scp-like URLs. */
  sshKeyFile?: string
  /** Token for https:// URLs, sent as an HTTP Authorization header. */
  tokenFile?: string
  /** Where the checkout lives (`<state>/git`); ssh records host keys in `known_hosts` next to it. */
  checkoutDir: string
}

/** Condition reasons of the git source. */
export const GitReason = {
  Synced: 'Synced',
  GitUnavailable: 'GitUnavailable',
  ManifestsUnreadable: 'ManifestsUnreadable',
  Progressing: 'Progressing',
} as const
export type GitReason = (typeof GitReason)[keyof typeof GitReason]

export interface GitSourceStatus {
  type: 'git'
  /** The URL, credentials stripped. */
  url: string
  branch: string
  path: string
  /** Commit SHA of the applied desired state. */
  revision?: string
  /** When the applied revision was applied. */
  appliedAt?: string
  /** When the last fetch succeeded. */
  lastFetched?: string
  condition: { status: 'True' | 'False' | 'Unknown'; reason: GitReason; message: string; lastTransitionTime: string }
  /** Fetches that failed in a row; the next one waits longer (reset by a success). */
  consecutiveFailures: number
  /** When the next fetch is due. */
  nextFetch?: string
}

export interface GitSource extends DesiredStateSource<LoadedState, GitSourceStatus> {
  status(): GitSourceStatus
  /** Fetches now and applies a new commit; resolves with the status afterwards. Serialized with the interval's fetches. */
  sync(): Promise<GitSourceStatus>
}

/** Longest wait between fetches while the repository is unavailable. */
export const MAX_BACKOFF_MS = 5 * 60_000
/** A git process that prints nothing for this long is killed (a hung connection). */
const GIT_TIMEOUT_MS = 60_000

/** The URL with `user:password@` removed, for logs and status. */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1')
}

/** Refuses a URL that embeds a password or token: it would end up in argv and .git/config. */
export function checkGitUrl(url: string): void {
  if (url.startsWith('-')) throw new UsageError(`--git ${url} is not a repository URL`)
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/@]*)@/i.exec(url)
  if (m && m[1]!.includes(':')) {
    throw new UsageError(
      `--git ${displayUrl(url)}: the URL embeds credentials`,
      'put the token in a file and pass --token-file FILE (or --ssh-key-file for ssh)',
    )
  }
}

/** The manifest path inside the checkout; refuses absolute paths and `..`. */
export function checkoutPath(root: string, path: string): string {
  const p = normalize(path || '.')
  if (isAbsolute(p) || p === '..' || p.startsWith(`..${sep}`)) throw new UsageError(`--path ${path} must be a folder inside the repository`)
  return join(root, p)
}

/** Delay before the next fetch after `failures` failed fetches in a row. */
export function nextDelay(intervalMs: number, failures: number): number {
  if (failures === 0) return intervalMs
  return Math.min(intervalMs * 2 ** failures, Math.max(MAX_BACKOFF_MS, intervalMs))
}

/**
 * Environment for git: the ambient one without GIT_* variables, no terminal prompts, and the
 * credential: a token as `http.extraHeader` (GIT_CONFIG_COUNT/KEY/VALUE), a key as GIT_SSH_COMMAND.
 * A token file holds TOKEN (sent as Basic x-access-token:TOKEN, which GitHub and GitLab accept) or USER:TOKEN.
 * With a key, ssh records and checks the server's host key in `knownHostsFile`, not in ~/.ssh.
 */
export function gitEnvironment(
  options: Pick<GitSourceOptions, 'sshKeyFile' | 'tokenFile'> & { knownHostsFile?: string },
  base: NodeJS.ProcessEnv,
): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(base))
    if (v !== undefined && !/^git_/i.test(k) && !/^(editor|visual|pager|prefix|ssh_askpass)$/i.test(k)) env[k] = v
  env.GIT_TERMINAL_PROMPT = '0'
  if (options.tokenFile) {
    let token: string
    try {
      token =
        readFileSync(options.tokenFile, 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .find((l) => l && !l.startsWith('#')) ?? ''
    } catch {
      throw new UsageError(`--token-file ${options.tokenFile} cannot be read`)
    }
    if (!token) throw new UsageError(`--token-file ${options.tokenFile} holds no token`)
    const basic = Buffer.from(token.includes(':') ? token : `x-access-token:${token}`).toString('base64')
    Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` })
  }
  if (options.sshKeyFile) {
    if (!existsSync(options.sshKeyFile)) throw new UsageError(`--ssh-key-file ${options.sshKeyFile} does not exist`)
    const knownHosts = options.knownHostsFile ? ` ${sshFileOption('UserKnownHostsFile', options.knownHostsFile)}` : ''
    env.GIT_SSH_COMMAND = `ssh ${sshFileOption('IdentityFile', options.sshKeyFile)} -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o LogLevel=ERROR${knownHosts}`
  }
  return env
}

/**
 * `-o NAME="FILE"` for the shell that runs GIT_SSH_COMMAND. The path is made absolute (git runs ssh
 * in the checkout), `%` is doubled (ssh expands %-tokens in file names), `"` and `\` are escaped.
 */
function sshFileOption(name: string, file: string): string {
  const option = `${name}="${resolve(file).replace(/%/g, '%%').replace(/["\\]/g, '\\$&')}"`
  return `-o '${option.replace(/'/g, `'\\''`)}'`
}

/** git's advice after any failed connection; dropped so that the reason (e.g. ssh's) stays in the last lines kept. */
const GIT_ADVICE = /^(Please make sure you have the correct access rights|and the repository exists\.)$/

/** Removes anything that looks like a credential from a git error message. */
function redact(message: string, secrets: readonly string[]): string {
  let out = message.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1')
  for (const s of secrets) if (s) out = out.split(s).join('***')
  const lines = out.split(/\r?\n/).map((l) => l.trim())
  return lines
    .filter((l) => l && !GIT_ADVICE.test(l))
    .slice(-3)
    .join(' / ')
}

/**
 * The git source. `start` runs the first sync before it resolves (a failure there applies the state
 * of an earlier checkout, or an empty one, and reports GitUnavailable); fetch failures are logged
 * with their redacted message, never git's raw error (it may hold its stderr).
 */
export function gitSource(options: GitSourceOptions, context: { log: Logger; env?: NodeJS.ProcessEnv }): GitSource {
  checkGitUrl(options.url)
  const log = context.log
  const env = gitEnvironment({ ...options, knownHostsFile: join(dirname(options.checkoutDir), 'known_hosts') }, context.env ?? process.env)
  const secrets = [
    env.GIT_CONFIG_VALUE_0?.replace(/^Authorization: Basic /, ''),
    options.tokenFile ? readFileSync(options.tokenFile, 'utf8').trim() : undefined,
  ].filter((s): s is string => !!s)
  const dir = options.checkoutDir
  const manifests = checkoutPath(dir, options.path)
  // Made by start, once the checkout folder exists (simple-git refuses a missing one).
  let git: SimpleGit
  const remoteRef = `refs/remotes/origin/${options.branch}`
  const now = (): string => new Date().toISOString()
  const status: GitSourceStatus = {
    type: 'git',
    url: displayUrl(options.url),
    branch: options.branch,
    path: options.path || '.',
    consecutiveFailures: 0,
    condition: { status: 'Unknown', reason: GitReason.Progressing, message: 'not fetched yet', lastTransitionTime: now() },
  }
  const setCondition = (ok: boolean, message: string, failure: GitReason = GitReason.GitUnavailable): void => {
    const reason = ok ? GitReason.Synced : failure
    if (status.condition.reason !== reason) status.condition.lastTransitionTime = now()
    Object.assign(status.condition, { status: ok ? 'True' : 'False', reason, message })
  }
  let current: LoadedState = { ...emptyState(), files: [] }
  // A new commit re-parses and re-validates only the files it changed.
  const cache = new LoadCache()
  let onState: (state: LoadedState, revision: string) => void = () => {}
  const apply = (state: LoadedState, revision: string): void => {
    current = state
    logDiagnostics(state, log)
    onState(state, revision)
  }

  const applyCheckout = async (sha: string): Promise<void> => {
    // Links may point anywhere in the repository, never out of it (to the host's files).
    apply(await loadDesiredState({ manifests: [manifests], secrets: options.secrets, within: dir }, cache), sha)
    status.revision = sha
    status.appliedAt = now()
  }

  const fetchAndApply = async (): Promise<void> => {
    if (!existsSync(join(dir, '.git'))) {
      await git.init()
      await git.addRemote('origin', options.url)
    } else {
      await git.remote(['set-url', 'origin', options.url])
    }
    await git.raw(['fetch', '--prune', '--no-tags', '--force', 'origin', `+refs/heads/${options.branch}:${remoteRef}`])
    status.lastFetched = now()
    const sha = (await git.raw(['rev-parse', '--verify', '--end-of-options', `${remoteRef}^{commit}`])).trim()
    if (sha !== status.revision) {
      // Reset to the fetched commit, whatever happened to the branch (a force-push included).
      await git.raw(['checkout', '--force', '--detach', sha])
      await git.raw(['clean', '-ffdxq'])
      try {
        await applyCheckout(sha)
      } catch (err) {
        throw Object.assign(new Error(`commit ${sha.slice(0, 12)}: ${(err as Error).message}`), { unreadable: true })
      }
    }
    setCondition(true, `applied ${sha.slice(0, 12)} of ${options.branch}`)
  }

  let timer: NodeJS.Timeout | undefined
  let closed = false
  let lastFailure = ''
  let running: Promise<unknown> = Promise.resolve()
  const schedule = (): void => {
    if (closed) return
    if (timer) clearTimeout(timer)
    const delay = nextDelay(options.intervalMs, status.consecutiveFailures)
    status.nextFetch = new Date(Date.now() + delay).toISOString()
    timer = setTimeout(() => void sync(), delay)
    timer.unref()
  }
  const sync = (): Promise<GitSourceStatus> => {
    const next = running.then(async () => {
      if (closed) return status
      try {
        await fetchAndApply()
        status.consecutiveFailures = 0
        schedule()
        if (lastFailure) log.info({ revision: status.revision }, 'git repository reachable again')
        lastFailure = ''
      } catch (err) {
        status.consecutiveFailures++
        const message = redact((err as Error).message ?? String(err), secrets)
        if ((err as { unreadable?: boolean }).unreadable)
          setCondition(false, `cannot load ${status.path}: ${message}`, GitReason.ManifestsUnreadable)
        else setCondition(false, `cannot fetch ${options.branch} from ${status.url}: ${message}`)
        schedule()
        log.error(
          { reason: status.condition.reason, failures: status.consecutiveFailures, nextFetch: status.nextFetch },
          `${status.condition.message}; keeping the last state`,
        )
        lastFailure = status.condition.message
      }
      return status
    })
    running = next
    return next
  }

  const snapshot = (): GitSourceStatus => ({ ...status, condition: { ...status.condition } })
  return {
    get state() {
      return current
    },
    async start(handler) {
      onState = handler
      await mkdir(dir, { recursive: true })
      git = simpleGit({
        baseDir: dir,
        timeout: { block: GIT_TIMEOUT_MS },
        allowEnvironment: Object.keys(env).filter((k) => /^git_/i.test(k)),
        unsafe: { allowUnsafeConfigEnvCount: true, allowUnsafeSshCommand: true },
      }).env(env)
      await sync()
      if (status.revision === undefined) {
        // Never fetched: serve what an earlier run checked out, or nothing, until the repository answers.
        const head = existsSync(join(dir, '.git'))
          ? (await git.raw(['rev-parse', '--verify', '--quiet', 'HEAD']).catch(() => '')).trim()
          : ''
        if (/^[0-9a-f]{40,64}$/.test(head)) await applyCheckout(head)
        else apply(await loadDesiredState({ manifests: [], secrets: options.secrets }, cache), '')
      }
      log.info(
        { url: status.url, branch: status.branch, path: status.path, revision: status.revision, reason: status.condition.reason },
        'following git repository',
      )
    },
    status: snapshot,
    sync: () => sync().then(snapshot),
    async stop() {
      closed = true
      if (timer) clearTimeout(timer)
      await running
    },
  }
}
