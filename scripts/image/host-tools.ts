// The Debian packages the image build (`npm run image`) and test/image.test.ts run: buildah builds,
// podman runs (with Debian's runc: crun fails here on cgroups in hybrid mode and on setrlimit),
// apt downloads the base image's packages, and python3, make, g++ compile better-sqlite3 for the
// image's Node.js. Installed with apt-get when missing (root only); one dpkg-query when present.
import { spawnSync } from 'node:child_process'

export const HOST_PACKAGES = ['buildah', 'podman', 'runc', 'python3', 'make', 'g++', 'binutils'] as const

/** Why the image cannot be built or run on this machine, or undefined when it can (after installing what is missing). */
export function hostProblem(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the image is linux/amd64; this is ${process.platform}/${process.arch}`
  if (spawnSync('dpkg-query', ['--version']).status !== 0) return 'dpkg-query not found: the image is built on Debian (or a derivative)'
  if (missingPackages().length > 0 && process.getuid?.() !== 0)
    return `the Debian packages ${missingPackages().join(', ')} are missing and only root may install them (sudo apt-get install -y ${missingPackages().join(' ')})`
  return undefined
}

export function missingPackages(): string[] {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...HOST_PACKAGES], { encoding: 'utf8' })
  const installed = new Set(
    r.stdout
      .split('\n')
      .filter((l) => l.endsWith(' install ok installed'))
      .map((l) => l.split(' ')[0]),
  )
  return HOST_PACKAGES.filter((p) => !installed.has(p))
}

/** Installs the missing packages (apt-get update first when the package lists lack one of them). */
export function ensureHostPackages(log: (line: string) => void): void {
  const problem = hostProblem()
  if (problem) throw new Error(`cannot build the image here: ${problem}`)
  const missing = missingPackages()
  if (missing.length === 0) return
  log(`image: installing Debian packages ${missing.join(' ')}`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => spawnSync('apt-get', ['install', '-y', ...missing], { stdio: 'inherit', env })
  if (install().status === 0) return
  if (spawnSync('apt-get', ['update'], { stdio: 'inherit', env }).status !== 0 || install().status !== 0)
    throw new Error(`apt-get install ${missing.join(' ')} failed (see above)`)
}
