// A real SSH server for git on 127.0.0.1: test/tools/git-sshd (Go, golang.org/x/crypto/ssh), built
// once and cached by test/tools/go-build.ts (in `pretest`, or by the first test that needs it). It
// accepts the keys of an authorized_keys file, serves `git-upload-pack '<path>'` with the real
// git-upload-pack on the bare repositories below a folder, and refuses anything else.
//
//   const sshd = await useGitSshd(t)          // undefined: the file was skipped (no Go); fails in CI
//   const key = await sshd.keygen(join(dir, 'id'))
//   const server = await sshd.serve(t, { root, authorizedKeys: key.publicKeyFile })
//   // ssh://git@127.0.0.1:${server.port}/repo.git
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { TAP } from 'tap'
import { buildToolSet, cacheFolder, findGo, harnessConfig, isBuilt, type GoToolSet, type HarnessConfig } from '../tools/go-build.js'
import type { TapTest } from './cli.js'

const source = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'git-sshd')

export async function gitSshdToolSet(cfg: HarnessConfig): Promise<GoToolSet> {
  const builds = (out: string) => [
    { what: 'git-sshd (golang.org/x/crypto/ssh)', module: '.', args: ['-ldflags', '-s -w', '-o', join(out, 'git-sshd'), '.'] },
  ]
  return {
    label: 'git-sshd',
    purpose: 'the SSH git server of the git-over-ssh tests',
    source,
    goMod: join(source, 'go.mod'),
    dir: await cacheFolder(cfg, 'git-sshd', source, builds('')),
    binaries: ['git-sshd'],
    builds,
  }
}

/** A line git-sshd printed: an authentication attempt or an exec request. */
export type SshdEvent =
  | { event: 'auth'; user: string; key: string; accepted: boolean }
  | { event: 'exec'; command: string; accepted: boolean; processes?: string }

export interface GitSshd {
  port: number
  /** The server's host key, `ssh-ed25519 AAAA...` (made when it started). */
  hostKey: string
  /** Everything it reported so far. */
  events: SshdEvent[]
}

export interface KeyPair {
  privateKeyFile: string
  publicKeyFile: string
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string
  /** `SHA256:...`, as the server reports it. */
  fingerprint: string
  privateKey: string
}

export interface GitSshdTool {
  bin: string
  /** An ed25519 key pair: `file` (OpenSSH format, mode 0600) and `file.pub`. */
  keygen(file: string): Promise<KeyPair>
  /** Starts a server (stopped in teardown, or when this process ends). */
  serve(t: TapTest, o: { root: string; authorizedKeys: string; processes?: boolean }): Promise<GitSshd>
}

/** The built server, or undefined after skipping the file (failing it in CI) when Go is missing. */
export async function useGitSshd(t: TAP): Promise<GitSshdTool | undefined> {
  const cfg = harnessConfig()
  const set = await gitSshdToolSet(cfg)
  if (!isBuilt(set)) {
    const go = await findGo(cfg, set)
    if (!go.ok) {
      if (cfg.ci) t.fail(`the git-over-ssh tests must run in CI, but: ${go.reason}`)
      else t.plan(0, `git-over-ssh tests skipped: ${go.reason}`)
      return undefined
    }
    t.comment('git-sshd is not built yet; building it now (`npm test` does this in pretest)')
    await buildToolSet(cfg, set, (line) => console.error(line))
  }
  const bin = join(set.dir, 'bin', 'git-sshd')
  return {
    bin,
    keygen: async (file) => {
      await promisify(execFile)(bin, ['keygen', file])
      const publicKey = (await readFile(`${file}.pub`, 'utf8')).trim()
      const blob = Buffer.from(publicKey.split(' ')[1]!, 'base64')
      const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
      return { privateKeyFile: file, publicKeyFile: `${file}.pub`, publicKey, fingerprint, privateKey: await readFile(file, 'utf8') }
    },
    serve: (t, o) => serve(t, bin, o),
  }
}

async function serve(t: TapTest, bin: string, o: { root: string; authorizedKeys: string; processes?: boolean }): Promise<GitSshd> {
  const args = ['serve', '-root', o.root, '-authorized-keys', o.authorizedKeys, ...(o.processes ? ['-processes'] : [])]
  // stdin stays open: the server exits when it closes, i.e. when this process ends.
  const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const events: SshdEvent[] = []
  const lines = createInterface({ input: child.stdout })
  const started = await new Promise<{ address: string; hostKey: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`git-sshd exited (${code}): ${stderr.trim()}`)))
    lines.once('line', (line) => resolve(JSON.parse(line)))
  })
  lines.on('line', (line) => events.push(JSON.parse(line)))
  t.teardown(async () => {
    if (child.exitCode !== null) return
    const gone = new Promise((r) => child.once('exit', r))
    child.stdin.end()
    await gone
  })
  return { port: Number(started.address.split(':').pop()), hostKey: started.hostKey, events }
}
