// Manifests as they are at a git revision: the files below a path of a commit, written into a temporary
// folder, so the folder loader reads them and validation is the same as `hookwise validate`. Uses
// simple-git (the git binary), never a shell.
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { simpleGit, type SimpleGit } from 'simple-git'
import { UsageError } from '../errors.js'

/** A git checkout: its root folder and a client working in it. */
export interface Repository {
  root: string
  git: SimpleGit
}

/** The repository that contains `cwd`. Throws a UsageError (exit 2) when it is not inside a git checkout. */
export async function openRepository(cwd: string): Promise<Repository> {
  let root: string
  try {
    root = (await simpleGit({ baseDir: cwd }).revparse(['--show-toplevel'])).trim()
  } catch {
    throw new UsageError(
      `${cwd} is not inside a git repository`,
      'run hookwise plan in a checkout of the repository that holds the manifests',
    )
  }
  return { root: await realpath(root), git: simpleGit({ baseDir: root }) }
}

/** The commit SHA `ref` names. Throws a UsageError when git does not know the ref. */
export async function resolveCommit(repo: Repository, ref: string): Promise<string> {
  if (ref.startsWith('-')) throw new UsageError(`${ref} is not a git ref`)
  // simple-git resolves, with empty output, when git exits 1 without writing to stderr (--quiet).
  const sha = await repo.git.raw(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]).then(
    (out) => out.trim(),
    () => '',
  )
  if (!/^[0-9a-f]{40,64}$/.test(sha)) {
    throw new UsageError(
      `git does not know the ref ${ref}`,
      'fetch it first (in CI: git fetch origin BRANCH, or actions/checkout with fetch-depth: 0), or give a branch, tag or commit SHA',
    )
  }
  return sha
}

/** `path` (relative to `cwd`) as a path relative to the repository root, with `/` separators; `''` is the root. */
export function pathInRepository(repo: Repository, cwd: string, path: string): string {
  const inside = relative(repo.root, resolve(cwd, path))
  if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside))
    throw new UsageError(`--path ${path} is outside the repository ${repo.root}`)
  return inside.split(sep).join('/')
}

/** A temporary copy of the manifest files of one commit; `remove` deletes it. */
export interface RevisionTree {
  /** Folder standing in for the repository root: files keep their paths relative to the root. */
  root: string
  remove(): Promise<void>
}

const MANIFEST_FILE = /\.ya?ml$/i

/**
 * Writes the `*.yaml` / `*.yml` files below `path` at `commit` into a temporary folder, at their paths
 * relative to the repository root. A path that does not exist at that commit gives an empty folder.
 * Symbolic links and submodules are not followed.
 */
export async function checkoutManifests(repo: Repository, commit: string, path: string): Promise<RevisionTree> {
  const root = await realpath(await mkdtemp(join(tmpdir(), 'hookwise-plan-')))
  const remove = (): Promise<void> => rm(root, { recursive: true, force: true })
  try {
    const args = ['ls-tree', '-r', '-z', '--full-tree', commit]
    if (path !== '') args.push('--', path)
    const listing = await repo.git.raw(args)
    // A path the commit does not have is an empty folder: everything at the head is added.
    if (path !== '' && listing === '') await mkdir(join(root, ...path.split('/')), { recursive: true })
    for (const entry of listing.split('\0')) {
      // <mode> SP <type> SP <object> TAB <file>
      const match = /^(\d+) (\w+) ([0-9a-f]+)\t(.*)$/s.exec(entry)
      if (!match) continue
      const [, mode, type, object, file] = match as unknown as [string, string, string, string, string]
      if (type !== 'blob' || mode === '120000' || !MANIFEST_FILE.test(file)) continue
      const target = join(root, ...file.split('/'))
      await mkdir(dirname(target), { recursive: true })
      await writeFile(target, await repo.git.raw(['cat-file', 'blob', object]))
    }
  } catch (err) {
    await remove()
    throw err
  }
  return { root, remove }
}
