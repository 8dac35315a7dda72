// The desired-state source of `hookwise run`: folders (--dir) or a branch of a git repository
// (--git); the cluster (--kubernetes) is a KubernetesSource that start-controller.ts makes itself,
// as a standby watches with it before it leads.
import { join } from 'node:path'
import { UsageError } from '../errors.js'
import type { Logger } from '../log.js'
import type { DesiredState } from '../model/desired-state.js'
import type { DesiredStateSource } from '../sources/desired-state-source.js'
import { folderSource } from '../sources/folder-watch.js'
import { checkGitUrl, gitSource, type GitSourceStatus } from '../sources/git-follow.js'

/** Any source `hookwise run` follows; only git has a status and sync. */
export type RunSource = DesiredStateSource<DesiredState, GitSourceStatus>

/** `hookwise run --kubernetes`: the cluster's custom resources (started by run.ts). */
export interface KubernetesOptions {
  kubeconfig?: string
  namespace?: string[]
  tenancy?: 'none' | 'namespace-label'
  /** False with --no-leader-elect. */
  leaderElect?: boolean
  leaseNamespace?: string
  leaseName?: string
  /** Milliseconds; the renew deadline is 2/3 of it and the retry period 2/15, as in client-go's defaults (15 s, 10 s, 2 s). */
  leaseDuration?: number
  /** Least milliseconds between two status writes of one object when only delivery facts changed. */
  statusInterval?: number
  /** Milliseconds an API request (not a watch) may take. */
  apiTimeout?: number
}

export interface SourceOptions extends KubernetesOptions {
  dir?: string[]
  git?: string
  kubernetes?: boolean
  branch?: string
  path?: string
  /** Milliseconds between fetches of --git. */
  interval?: number
  sshKeyFile?: string
  tokenFile?: string
  secrets?: string[]
  state: string
}

/** Checks that exactly one of --dir, --git and --kubernetes is given, and the git flags only with --git. */
export function checkSourceOptions(o: SourceOptions): void {
  const dirs = o.dir?.length ?? 0
  const given = [dirs > 0 && '--dir', o.git && '--git', o.kubernetes && '--kubernetes'].filter(Boolean)
  if (given.length > 1)
    throw new UsageError(`${given.join(' and ')} cannot be used together`, 'follow folders, one git repository, or the cluster')
  if (given.length === 0)
    throw new UsageError(
      'give --dir DIR, --git URL or --kubernetes',
      'e.g. hookwise run --dir examples, hookwise run --git https://github.com/acme/automations.git, or hookwise run --kubernetes',
    )
  if (!o.kubernetes) {
    const kubeOnly = (
      ['namespace', 'kubeconfig', 'tenancy', 'leaseNamespace', 'leaseName', 'leaseDuration', 'statusInterval', 'apiTimeout'] as const
    ).filter((k) => o[k] !== undefined)
    if (kubeOnly.length) throw new UsageError(`--${kubeOnly[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --kubernetes`)
    if (o.leaderElect === false) throw new UsageError('--no-leader-elect needs --kubernetes')
  }
  if (o.kubernetes && o.secrets?.length)
    throw new UsageError('--secrets cannot be used with --kubernetes', 'in Kubernetes, webhooks read Secrets of their own namespace')
  if (!o.git) {
    const gitOnly = (['branch', 'path', 'interval', 'sshKeyFile', 'tokenFile'] as const).filter((k) => o[k] !== undefined)
    if (gitOnly.length) throw new UsageError(`--${gitOnly[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --git`)
  }
  if (o.git) checkGitUrl(o.git)
  if (o.sshKeyFile && o.tokenFile)
    throw new UsageError('--ssh-key-file and --token-file cannot be used together', 'ssh URLs take a key, https URLs a token')
}

/** The source of --dir or --git (not started). */
export function fileSource(o: SourceOptions, log: Logger, env: NodeJS.ProcessEnv): RunSource {
  checkSourceOptions(o)
  if (!o.git) return folderSource({ manifests: o.dir!, secrets: o.secrets ?? [] }, { log })
  return gitSource(
    {
      url: o.git,
      branch: o.branch ?? 'main',
      path: o.path ?? '.',
      intervalMs: o.interval ?? 30_000,
      secrets: o.secrets ?? [],
      checkoutDir: join(o.state, 'git'),
      ...(o.sshKeyFile ? { sshKeyFile: o.sshKeyFile } : {}),
      ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}),
    },
    { log, env },
  )
}
