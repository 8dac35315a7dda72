// `npm run image`: builds localhost/hookwise:<version> from the package registries alone (Debian's
// archive for the shared libraries, npm for Node.js and the dependencies) with buildah, and writes
//
//   dist/hookwise-<version>.oci.tar                  the image as an OCI archive (podman load / skopeo copy)
//   dist/hookwise-<version>.sbom.cdx.json            `npm sbom` (CycloneDX) of /app, also in the image as /app/sbom.cdx.json
//   dist/hookwise-<version>.debian-packages.txt      the Debian packages: name version architecture
//
// The build is cached by a hash of everything that goes into it (the Dockerfile, the lock file, the
// sources, crds/, scripts/image/ and the revision): a second run with the same inputs finds the image
// and returns at once. test/image.test.ts and `npm run pretest` use ensureImage() the same way.
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { VERSION } from '../../controller/version.js'
import { buildBase, nodePackage } from './base.js'
import { ensureHostPackages } from './host-tools.js'
import { cacheRoot, containersEnv, root, run } from './recipe.js'
import { containerfile, stageBuild, stageDeps } from './stage.js'

export const IMAGE_NAME = 'localhost/hookwise'
export const archivePath = (): string => join(root, 'dist', `hookwise-${VERSION}.oci.tar`)
export const sbomPath = (): string => join(root, 'dist', `hookwise-${VERSION}.sbom.cdx.json`)
export const debianListPath = (): string => join(root, 'dist', `hookwise-${VERSION}.debian-packages.txt`)
/** The inputs hash of the build whose files are in dist/ (a checkout of an older commit finds its image, but not its files). */
const inputsPath = (): string => join(root, 'dist', `hookwise-${VERSION}.inputs`)
const readIfExists = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined)

export interface BuiltImage {
  /** `localhost/hookwise:<version>` */
  tag: string
  /** The image ID (sha256 of its config): what the tests run, whatever the tag points to later. */
  id: string
  /** Bytes, uncompressed, as `podman image ls` shows. */
  size: number
  /** Bytes of the OCI archive (compressed layers). */
  archiveSize: number
  inputs: string
  labels: Record<string, string>
  /** Seconds the build took (0 when it came from the cache). */
  seconds: number
  cached: boolean
}

const INPUTS = [
  'Dockerfile',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'controller',
  'crds',
  'scripts/image',
]

function files(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path)
    .sort()
    .flatMap((name) => files(join(path, name)))
}

/** The OCI labels' revision and source: the commit (with `-dirty` when an input differs from it) and the origin remote. */
export async function provenance(): Promise<{ revision: string; source: string; epoch: number }> {
  const git = (args: string[]) => run('git', args, { cwd: root }).then((s) => s.trim())
  const sha = await git(['rev-parse', 'HEAD'])
  const dirty = (await git(['status', '--porcelain', '--', ...INPUTS])) !== ''
  // The image's file dates and creation time: the commit's, so unchanged inputs build the same layers.
  const epoch = Number(await git(['log', '-1', '--format=%ct']))
  const source = process.env.HOOKWISE_IMAGE_SOURCE || (await git(['remote', 'get-url', 'origin']).catch(() => `file://${root}`))
  return { revision: dirty ? `${sha}-dirty` : sha, source, epoch }
}

export function inputsHash(extra: string): string {
  const hash = createHash('sha256')
  for (const file of INPUTS.flatMap((p) => files(join(root, p))))
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0')
  return hash.update(extra).digest('hex').slice(0, 16)
}

const record = (inputs: string) => join(cacheRoot(), 'images', `${inputs}.json`)

async function imageExists(id: string): Promise<boolean> {
  return run('podman', ['image', 'exists', id], { env: containersEnv() }).then(
    () => true,
    () => false,
  )
}

/** The image for the current inputs: from the cache, or built now. */
export async function ensureImage(log: (line: string) => void): Promise<BuiltImage> {
  ensureHostPackages(log)
  const p = await provenance()
  const inputs = inputsHash(JSON.stringify(p))
  const cached = async (): Promise<BuiltImage | undefined> => {
    if (!existsSync(record(inputs)) || readIfExists(inputsPath()) !== inputs) return undefined
    const image = JSON.parse(readFileSync(record(inputs), 'utf8')) as BuiltImage
    return (await imageExists(image.id)) ? { ...image, cached: true, seconds: 0 } : undefined
  }
  const found = await cached()
  if (found) return found
  return withLock(async () => {
    // Another process may have built it while this one waited for the lock.
    const found = await cached()
    if (found) return found
    const started = Date.now()
    const built = await build(inputs, p, log)
    const result: BuiltImage = { ...built, inputs, seconds: Math.round((Date.now() - started) / 1000), cached: false }
    mkdirSync(join(cacheRoot(), 'images'), { recursive: true })
    writeFileSync(record(inputs), JSON.stringify(result, null, 2))
    writeFileSync(inputsPath(), `${inputs}\n`)
    return result
  })
}

async function build(
  inputs: string,
  p: { revision: string; source: string; epoch: number },
  log: (line: string) => void,
): Promise<Omit<BuiltImage, 'inputs' | 'seconds' | 'cached'>> {
  const env = containersEnv()
  const stage = join(cacheRoot(), `stage-${process.pid}`)
  rmSync(stage, { recursive: true, force: true })
  mkdirSync(stage, { recursive: true })
  const base = `localhost/hookwise-base:${inputs}`
  try {
    const nodeDir = await nodePackage(log)
    const [debian] = await Promise.all([
      buildBase(join(stage, 'base', 'rootfs'), nodeDir, log),
      stageBuild(stage),
      stageDeps(stage, nodeDir, log),
    ])
    // The base: the root filesystem copied into an empty container as it is (owners and modes kept).
    log('image: committing the base')
    const ctr = (await run('buildah', ['from', 'scratch'], { env })).trim()
    try {
      const mnt = (await run('buildah', ['mount', ctr], { env })).trim()
      await run('cp', ['-a', `${join(stage, 'base', 'rootfs')}/.`, `${mnt}/`])
      await run('buildah', ['umount', ctr], { env })
      await run('buildah', ['commit', '--timestamp', String(p.epoch), ctr, base], { env })
    } finally {
      await run('buildah', ['rm', ctr], { env }).catch(() => {})
    }
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
    writeFileSync(join(stage, 'Containerfile'), containerfile(dockerfile, base))
    const tag = `${IMAGE_NAME}:${VERSION}`
    log(`image: building ${tag}`)
    // chroot isolation: nothing runs in these stages (they only copy), and it needs no user namespaces.
    const args = ['build', '--isolation', 'chroot', '--pull=never', '--timestamp', String(p.epoch), '-f', join(stage, 'Containerfile')]
    for (const [k, v] of Object.entries({ VERSION, REVISION: p.revision, SOURCE: p.source })) args.push('--build-arg', `${k}=${v}`)
    await run('buildah', [...args, '--label', `dev.hookwise.inputs=${inputs}`, '-t', tag, stage], { env })
    await run('buildah', ['rmi', base], { env }).catch(() => {})
    const id = (await run('podman', ['image', 'inspect', '--format', '{{.Id}}', tag], { env })).trim()
    await removeOldImages(id)

    mkdirSync(join(root, 'dist'), { recursive: true })
    rmSync(inputsPath(), { force: true })
    rmSync(archivePath(), { force: true })
    await run('buildah', ['push', id, `oci-archive:${archivePath()}:${tag}`], { env })
    copyFileSync(join(stage, 'app', 'sbom.cdx.json'), sbomPath())
    writeFileSync(debianListPath(), debian.map((d) => `${d.name} ${d.version} ${d.architecture}\n`).join(''))
    const inspect = JSON.parse(await run('podman', ['image', 'inspect', id], { env }))[0] as {
      Size: number
      Labels: Record<string, string>
    }
    return { tag, id, size: inspect.Size, archiveSize: statSync(archivePath()).size, labels: inspect.Labels }
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
}

/**
 * Earlier builds stay in podman's storage: the newest few are kept, since another checkout's tests
 * on this machine may be running one by its ID; older ones go unless a container uses them.
 */
export async function removeOldImages(keep: string, count = 3): Promise<void> {
  const env = containersEnv()
  const listed = JSON.parse(
    await run('podman', ['images', '--filter', 'label=dev.hookwise.inputs', '--format', 'json'], { env }),
  ) as Array<{
    Id: string
    Created: number
    Names?: string[]
  }>
  const old = listed
    .filter((i) => i.Id !== keep)
    .sort((a, b) => b.Created - a.Created)
    .slice(count - 1)
  // Each name, then the image: never --force, which would remove the containers using it too.
  for (const image of old) for (const ref of [...(image.Names ?? []), image.Id]) await run('podman', ['rmi', ref], { env }).catch(() => {})
}

/** One build at a time on a machine (two test runs, or a test run beside `npm run image`). */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(cacheRoot(), 'build.lock')
  mkdirSync(cacheRoot(), { recursive: true })
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      break
    } catch {
      const owner = Number(readFileSync(join(lock, 'pid'), 'utf8').trim() || '0')
      let alive = false
      try {
        process.kill(owner, 0)
        alive = true
      } catch {}
      if (!alive) rmSync(lock, { recursive: true, force: true })
      else await new Promise((r) => setTimeout(r, 2000))
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

if (import.meta.filename === process.argv[1]) {
  const image = await ensureImage((line) => console.error(line))
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`
  console.log(`${image.tag} ${image.id.slice(0, 12)} ${image.cached ? '(cached)' : `built in ${image.seconds} s`}`)
  console.log(`  size ${mb(image.size)} (archive ${mb(image.archiveSize)})`)
  console.log(
    `  ${relative(process.cwd(), archivePath())}\n  ${relative(process.cwd(), sbomPath())}\n  ${relative(process.cwd(), debianListPath())}`,
  )
}
