// Loads the manifests below a path of a folder that stands for a repository root (a checkout, or a
// revision written out by git-revision.ts) with the folder loader, naming files relative to that root.
import { join, relative, sep } from 'node:path'
import type { Diagnostic } from '../errors.js'
import type { DesiredState } from '../model/desired-state.js'
import { loadTree } from './folder.js'
import { loadDesiredState } from './load.js'
import type { ManifestObject } from '../model/manifest-object.js'

/** One revision: the validated desired state and the objects as written (for field-level diffs). */
export interface RevisionState {
  state: DesiredState
  objects: ManifestObject[]
}

/**
 * Loads `path` (relative to `root`, `/`-separated, `''` for the root) and the Secret manifests of
 * `secrets` (folders outside the repository, relative to the current folder). Files below `root`
 * are named relative to it, as in the pull request.
 */
export async function loadRevision(root: string, path: string, secrets: readonly string[]): Promise<RevisionState> {
  const dir = path === '' ? root : join(root, ...path.split('/'))
  const loaded = await loadDesiredState({ manifests: [dir], secrets })
  const tree = await loadTree([dir])
  const rel = (file: string): string => {
    const r = relative(root, file)
    return r.startsWith('..') ? file : r.split(sep).join('/')
  }
  const diagnostics: Diagnostic[] = loaded.diagnostics.map((d) => (d.file === undefined ? d : { ...d, file: rel(d.file) }))
  const objects = tree.objects.map((o) => ({ ...o, source: { ...o.source, file: rel(o.source.file) } }))
  return {
    state: {
      webhooks: loaded.webhooks,
      automations: loaded.automations,
      secrets: loaded.secrets,
      eventSources: loaded.eventSources,
      diagnostics,
    },
    objects,
  }
}
