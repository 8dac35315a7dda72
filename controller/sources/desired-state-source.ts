// What `hookwise run` needs of wherever its desired state comes from: folders (folder-watch.ts), a
// branch of a git repository (git-follow.ts) or the cluster's custom resources
// (kubernetes/cluster-source.ts). The composition root wires every one of them the same way.
import type { DesiredState } from '../model/desired-state.js'
import type { SecretLookup } from '../model/secrets.js'

export interface DesiredStateSource<State extends DesiredState = DesiredState, Status = never> {
  /**
   * Starts following. Resolves once the first state went to `onState`; every later change of the
   * state calls it again. `revision` names what the state was read from (git: the commit SHA).
   */
  start(onState: (state: State, revision?: string) => void): Promise<void>
  /** The state last handed to onState (empty before start). */
  readonly state: State
  /** Where Secret values come from, when not from `state.secrets` (the cluster's informer cache, read at each use). */
  readonly secretLookup?: SecretLookup
  /** What the source says of itself in GET /v1/status (git: the revision applied and whether the repository is reachable). */
  status?(): Status
  /** Reads the source now (POST /v1/sync); resolves with the status afterwards. */
  sync?(): Promise<Status>
  /** Stops following; no onState call follows. */
  stop(): Promise<void>
}

export const emptyState = (): DesiredState => ({
  webhooks: new Map(),
  automations: [],
  secrets: new Map(),
  eventSources: new Map(),
  diagnostics: [],
})
