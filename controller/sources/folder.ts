// Reads manifests from folders and files: every *.yaml / *.yml below the given paths, in a stable order.
import type { Stats } from 'node:fs'
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { HookwiseError, type Diagnostic } from '../errors.js'
import type { ManifestObject } from '../model/manifest-object.js'
import { MAX_MANIFEST_BYTES, parseManifest } from './manifest.js'

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml'])
const SKIPPED_DIRS = new Set(['node_modules'])

export interface LoadedTree {
  objects: ManifestObject[]
  diagnostics: Diagnostic[]
  files: string[]
}

/** Manifest files below `path` (or `path` itself), sorted; hidden files and folders (.gitlab-ci.yml, .github/) and node_modules are skipped. */
export async function manifestFiles(path: string): Promise<string[]> {
  let info: Stats
  try {
    info = await stat(path)
  } catch {
    throw new HookwiseError('HW_PATH_NOT_FOUND', `${path} does not exist or cannot be read`, {
      hint: 'check the path; it is relative to the current folder',
    })
  }
  if (info.isFile()) return [path]
  const files: string[] = []
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
        if (!e.name.startsWith('.') && !SKIPPED_DIRS.has(e.name)) await walk(full)
      } else if (!e.name.startsWith('.') && MANIFEST_EXTENSIONS.has(extname(e.name).toLowerCase())) {
        files.push(full)
      }
    }
  }
  await walk(path)
  return files
}

/** Reads and parses every manifest below the given paths. */
export async function loadTree(paths: readonly string[]): Promise<LoadedTree> {
  const out: LoadedTree = { objects: [], diagnostics: [], files: [] }
  for (const path of paths) {
    for (const file of await manifestFiles(path)) {
      out.files.push(file)
      const size = (await stat(file)).size
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
      const parsed = parseManifest(await readFile(file, 'utf8'), file)
      out.objects.push(...parsed.objects)
      out.diagnostics.push(...parsed.diagnostics)
    }
  }
  return out
}
