// Flux's notification-controller, the peer of `npm run bench:peers` (bench/peers.bench.ts) and of
// test/bench-peers.test.ts: built from the source snapshot in ../shared/peers (a tarball of the
// public fluxcd/notification-controller repository, see the README there) with `go build`, its
// dependencies from the Go module proxy, and cached like the Kubernetes tools:
//
//   ~/.cache/hookwise-k8s/notification-controller_<hash of the tarball and build flags>/bin/
//
// The tarball is unpacked next to the cache folder only while building (about 4 minutes on 2 cores
// with empty Go caches, a ~100 MB binary).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildToolSet, findGo, type GoBuild, type GoToolSet, type HarnessConfig, isBuilt } from './go-build.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
/** The pinned snapshot: ../shared/peers beside the repository (a clean clone sees the same folder). */
export const PEER_TARBALL = resolve(repoRoot, '..', 'shared', 'peers', 'flux-notification-controller-2e46958a.tar.gz')
/** The upstream commit of the snapshot, for the benchmark's report. */
export const PEER_COMMIT = '2e46958a67f3af0e3e755a4fcaf7397d5803725e'

export interface NotificationController {
  /** The binary. */
  binary: string
  /** Its CRDs (config/crd/bases of the snapshot), copied next to the binary. */
  crds: string
  commit: string
}

async function toolSet(cfg: HarnessConfig): Promise<GoToolSet> {
  const builds = (out: string): GoBuild[] => [
    {
      what: `notification-controller (fluxcd/notification-controller@${PEER_COMMIT.slice(0, 8)})`,
      module: '.',
      args: ['-ldflags', '-s -w', '-o', join(out, 'notification-controller'), '.'],
    },
  ]
  const hash = createHash('sha256')
    .update(await readFile(PEER_TARBALL))
    .update(JSON.stringify(builds('')))
    .digest('hex')
    .slice(0, 10)
  const dir = join(cfg.cacheRoot, `notification-controller_${hash}`)
  const source = `${dir}.src`
  return {
    label: 'notification-controller',
    purpose: 'notification-controller, the peer of npm run bench:peers',
    source,
    goMod: join(source, 'go.mod'),
    dir,
    binaries: ['notification-controller'],
    builds: (out) => {
      // The CRDs go with the binary: the benchmark applies them, and the source folder is removed.
      const copied = spawnSync('cp', ['-r', join(source, 'config', 'crd', 'bases'), join(out, '..', 'crds')])
      if (copied.status !== 0) throw new Error(`notification-controller: cannot copy its CRDs: ${copied.stderr}`)
      return builds(out)
    },
    manifest: { commit: PEER_COMMIT, tarball: PEER_TARBALL },
  }
}

/** Why the peer cannot be built here, or undefined when it can (or is built already). */
export async function peerUnavailable(cfg: HarnessConfig): Promise<string | undefined> {
  if (!existsSync(PEER_TARBALL)) return `the peer's source ${PEER_TARBALL} is missing`
  const set = await toolSet(cfg)
  if (isBuilt(set)) return undefined
  await unpack(set)
  const go = await findGo(cfg, set)
  return go.ok ? undefined : go.reason
}

/** The built peer, building it first when it is not in the cache. */
export async function ensureNotificationController(cfg: HarnessConfig, log: (line: string) => void): Promise<NotificationController> {
  if (!existsSync(PEER_TARBALL)) throw new Error(`notification-controller: its source ${PEER_TARBALL} is missing`)
  const set = await toolSet(cfg)
  if (!isBuilt(set)) {
    await unpack(set)
    try {
      await buildToolSet(cfg, set, log)
    } finally {
      await rm(set.source, { recursive: true, force: true })
    }
  }
  return { binary: join(set.dir, 'bin', 'notification-controller'), crds: join(set.dir, 'crds'), commit: PEER_COMMIT }
}

async function unpack(set: GoToolSet): Promise<void> {
  if (existsSync(set.goMod)) return
  await rm(set.source, { recursive: true, force: true })
  await mkdir(set.source, { recursive: true })
  const tar = spawnSync('tar', ['-xzf', PEER_TARBALL, '-C', set.source], { encoding: 'utf8' })
  if (tar.status !== 0) throw new Error(`notification-controller: cannot unpack ${PEER_TARBALL}: ${tar.stderr || tar.error?.message}`)
}
