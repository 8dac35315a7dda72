// Reads manifests from folders and files: every *.yaml / *.yml below the given paths, in a stable order.
import type { Stats } from 'node:fs'
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { extname, join, sep } from 'node:path'
import { HookwiseError, type Diagnostic } from '../errors.js'
import type { ManifestObject } from '../model/manifest-object.js'
import { MAX_MANIFEST_BYTES, parseManifest, type ParsedManifest } from './manifest.js'

/**
 * Files as last parsed, by path: a file whose text has not changed is not parsed again, and keeps
 * its objects (the same ManifestObjects, which validation's cache recognises). loadTree drops the
 * files it no longer finds.
 */
export type ParseCache = Map<string, { text: string; parsed: ParsedManifest; unchangedSince?: string }>

/**
 * A file's inode, size and change and modification times, when they can tell that it is unchanged:
 * then it is not even read again (issue 22: a watched folder of 10k automations re-read 4 MB per
 * edit). The change time (ctime) moves on every write and cannot be set back by tools that restore
 * mtimes, as git's index relies on; like git's "racily clean" rule, a file changed within the last
 * two seconds before it was read is read again every time, since a write in the same clock tick
 * could leave all four the same (coarse file system timestamps).
 */
function unchangedSince(info: Stats, readAt: number): string | undefined {
  if (info.ctimeMs > readAt - 2000 || info.mtimeMs > readAt - 2000) return undefined
  return `${info.dev}:${info.ino}:${info.size}:${info.ctimeMs}:${info.mtimeMs}`
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml'])
const SKIPPED_DIRS = new Set(['node_modules'])

export interface LoadedTree {
  objects: ManifestObject[]
  diagnostics: Diagnostic[]
  files: string[]
}

/** The manifest files below a path, and the symbolic links refused on the way. */
export interface ManifestFiles {
  files: string[]
  /** HW_SYMLINK_OUTSIDE warnings: links whose real path is outside the folder. */
  refused: Diagnostic[]
}

/** `path` (a real path) is `root` or below it. */
const isInside = (root: string, path: string): boolean => path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`)

function outsideWarning(link: string, target: string, root: string): Diagnostic {
  return {
    code: 'HW_SYMLINK_OUTSIDE',
    severity: 'warning',
    file: link,
    message: `${link} is a symbolic link to ${target}, outside ${root}: not read`,
    hint: 'copy the file into the folder (or point the link at a file inside it); hookwise reads nothing outside the folders it is given',
  }
}

/**
 * Manifest files below `path` (or `path` itself), sorted; hidden files and folders (.gitlab-ci.yml,
 * .github/) and node_modules are skipped. Symbolic links are followed only while their real path
 * stays inside `within` (default: `path` itself): a repository could otherwise commit
 * `passwd.yaml -> /etc/passwd` and make hookwise read, and send, files of the host it runs on.
 */
export async function manifestFiles(path: string, within: string = path): Promise<ManifestFiles> {
  let info: Stats
  let root: string
  try {
    info = await stat(path)
    root = await realpath(within)
  } catch {
    throw new HookwiseError('HW_PATH_NOT_FOUND', `${path} does not exist or cannot be read`, {
      hint: 'check the path; it is relative to the current folder',
    })
  }
  const out: ManifestFiles = { files: [], refused: [] }
  /** Whether `full` may be read: its real path is inside the root (a broken link is left to fail where it is read). */
  const allowed = async (full: string): Promise<boolean> => {
    const real = await realpath(full).catch(() => undefined)
    if (real === undefined || isInside(root, real)) return true
    out.refused.push(outsideWarning(full, real, root))
    return false
  }
  if (!(await allowed(path))) return out
  if (info.isFile()) {
    out.files.push(path)
    return out
  }
  const visited = new Set<string>()
  const walk = async (dir: string): Promise<void> => {
    const real = await realpath(dir)
    if (visited.has(real)) return // a symlink loop
    visited.add(real)
    const entries = await readdir(dir, { withFileTypes: true })
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
      const full = join(dir, e.name)
      const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(full).catch(() => undefined))?.isDirectory())
      if (isDir) {
        if (!e.name.startsWith('.') && !SKIPPED_DIRS.has(e.name) && (!e.isSymbolicLink() || (await allowed(full)))) await walk(full)
      } else if (!e.name.startsWith('.') && MANIFEST_EXTENSIONS.has(extname(e.name).toLowerCase())) {
        if (!e.isSymbolicLink() || (await allowed(full))) out.files.push(full)
      }
    }
  }
  await walk(path)
  return out
}

/**
 * Reads and parses every manifest below the given paths. Each path is the folder its symbolic links
 * must stay in, unless `within` names a folder for all of them (a repository's root, for --git).
 */
export async function loadTree(paths: readonly string[], within?: string, cache?: ParseCache): Promise<LoadedTree> {
  const out: LoadedTree = { objects: [], diagnostics: [], files: [] }
  const read = new Set<string>()
  for (const path of paths) {
    const { files, refused } = await manifestFiles(path, within ?? path)
    out.diagnostics.push(...refused)
    for (const file of files) {
      out.files.push(file)
      const readAt = Date.now()
      const info = await stat(file)
      const size = info.size
      const known = cache?.get(file)
      if (known?.unchangedSince !== undefined && known.unchangedSince === unchangedSince(info, readAt)) {
        read.add(file)
        out.objects.push(...known.parsed.objects)
        out.diagnostics.push(...known.parsed.diagnostics)
        continue
      }
      if (size > MAX_MANIFEST_BYTES) {
        out.diagnostics.push({
          code: 'HW_FILE_TOO_LARGE',
          severity: 'error',
          file,
          line: 1,
          column: 1,
          message: `file is ${(size / 1024 / 1024).toFixed(1)} MiB, more than the ${MAX_MANIFEST_BYTES / 1024 / 1024} MiB hookwise reads`,
          hint: 'split it into several files; manifests this large are not hand-written',
        })
        continue
      }
      const text = await readFile(file, 'utf8')
      const parsed = known?.text === text ? known.parsed : parseManifest(text, file, known?.parsed)
      // The signature of the file as it was before reading it: a write meanwhile makes it differ next time.
      const signature = unchangedSince(info, readAt)
      if (cache && (known?.parsed !== parsed || known.unchangedSince !== signature))
        cache.set(file, { text, parsed, ...(signature ? { unchangedSince: signature } : {}) })
      read.add(file)
      out.objects.push(...parsed.objects)
      out.diagnostics.push(...parsed.diagnostics)
    }
  }
  if (cache) for (const file of cache.keys()) if (!read.has(file)) cache.delete(file)
  return out
}
