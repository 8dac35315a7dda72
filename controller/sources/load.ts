// Desired state from folders: manifests, plus a separate secrets folder so secret values never need to live in git.
import { realpath } from 'node:fs/promises'
import type { Diagnostic } from '../errors.js'
import { ValidationCache, validateObjects } from '../reconcile/validate.js'
import type { DesiredState } from '../model/desired-state.js'
import { loadTree, type ParseCache } from './folder.js'

export interface FolderSources {
  manifests: readonly string[]
  /** Folders whose Secret objects supply values outside Kubernetes; other kinds there are ignored. */
  secrets?: readonly string[]
  /**
   * The folder symbolic links in the manifests must resolve inside (a repository's root for --git).
   * Default: each manifests path; secrets folders are always their own.
   */
  within?: string
}

export interface LoadedState extends DesiredState {
  files: string[]
}

/**
 * What a source that loads again and again (a watched folder, a followed branch) keeps between loads,
 * so that one changed file is parsed, validated and compiled alone (issue 22).
 */
export class LoadCache {
  readonly manifests: ParseCache = new Map()
  readonly secrets: ParseCache = new Map()
  readonly validation = new ValidationCache()
}

export async function loadDesiredState(sources: FolderSources, cache?: LoadCache): Promise<LoadedState> {
  const manifests = await loadTree(sources.manifests, sources.within, cache?.manifests)
  const secrets = await loadTree(sources.secrets ?? [], undefined, cache?.secrets)
  const notes: Diagnostic[] = []
  // A secrets folder inside the manifests folder (as in examples/) is read once, as manifests.
  const alreadyRead = new Set(await Promise.all(manifests.files.map((f) => realpath(f))))
  const secretFiles = new Set<string>()
  for (const f of secrets.files) if (!alreadyRead.has(await realpath(f))) secretFiles.add(f)
  const secretObjects = secrets.objects.filter((o) => {
    if (!secretFiles.has(o.source.file)) return false
    if (o.apiVersion === 'v1' && o.kind === 'Secret') return true
    notes.push({
      code: 'HW_UNKNOWN_KIND',
      severity: 'warning',
      file: o.source.file,
      line: o.source.line,
      column: o.source.column,
      message: `ignoring ${String(o.kind)}: only Secrets are read from a secrets folder`,
      hint: 'move Webhooks and Automations to the manifests folder',
    })
    return false
  })
  // Links refused in a secrets folder are reported once, also when it lies inside the manifests folder.
  const refusedAlready = new Set(manifests.diagnostics.filter((d) => d.code === 'HW_SYMLINK_OUTSIDE').map((d) => d.file))
  const secretDiagnostics = secrets.diagnostics.filter(
    (d) => d.file === undefined || secretFiles.has(d.file) || (d.code === 'HW_SYMLINK_OUTSIDE' && !refusedAlready.has(d.file)),
  )
  const state = validateObjects(
    [...manifests.objects, ...secretObjects],
    [...manifests.diagnostics, ...secretDiagnostics, ...notes],
    cache?.validation,
  )
  return { ...state, files: [...manifests.files, ...secretFiles] }
}
