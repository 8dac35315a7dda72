// Real git repositories in temporary folders, for tests of commands that read git history.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export interface TestRepo {
  root: string
  git(...args: string[]): string
  /** Writes files (path relative to the root → content); `null` deletes. */
  write(files: Record<string, string | null>): void
  /** Stages everything and commits; returns the commit SHA. */
  commit(message: string): string
  remove(): void
}

/** A new repository on branch main with a configured user, in a temporary folder outside any checkout. */
export function createRepo(): TestRepo {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'hookwise-git-')))
  const git = (...args: string[]): string =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: root } })
  git('init', '-q', '-b', 'main')
  git('config', 'user.name', 'Test User')
  git('config', 'user.email', 'test@example.com')
  git('config', 'commit.gpgsign', 'false')
  return {
    root,
    git,
    write(files) {
      for (const [path, content] of Object.entries(files)) {
        const full = join(root, path)
        if (content === null) rmSync(full, { force: true })
        else {
          mkdirSync(dirname(full), { recursive: true })
          writeFileSync(full, content)
        }
      }
    },
    commit(message) {
      git('add', '-A')
      git('commit', '-q', '-m', message)
      return git('rev-parse', 'HEAD').trim()
    },
    remove: () => rmSync(root, { recursive: true, force: true }),
  }
}
