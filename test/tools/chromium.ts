// Debian's Chromium, the real browser test/dashboard.test.ts and `npm run bench:dashboard` drive
// with playwright-core. Installed by `pretest` with apt-get when /usr/bin/chromium is missing (root
// on Debian only; about a minute with warm package lists). Without it the dashboard test is skipped
// with a one-line reason, and in CI that is a failure.
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { harnessConfig } from './go-build.js'

export const CHROMIUM = '/usr/bin/chromium'

/**
 * The flags the tests launch it with. Without the background-networking ones Chromium's own
 * connections (component updates, sync, QUIC probes) are refused here and slow every page down.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Why Chromium cannot be used here, or undefined when /usr/bin/chromium exists. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined
  return `${CHROMIUM} not found (install Debian's chromium package: apt-get install -y --no-install-recommends chromium)`
}

/** Installs Debian's chromium when missing (root with apt-get only); returns why it is still missing. */
export function ensureChromium(log: (line: string) => void): string | undefined {
  if (!chromiumMissing()) return undefined
  if (process.getuid?.() !== 0 || spawnSync('apt-get', ['--version']).status !== 0) return chromiumMissing()
  log('chromium: installing the Debian package')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env })
  if (install().status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env })
    install()
  }
  return chromiumMissing()
}

/** Why the browser tests are skipped locally (undefined: they run). In CI a missing browser is a failure, not a skip. */
export function chromiumSkipReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const missing = chromiumMissing()
  if (missing && harnessConfig(env).ci) throw new Error(`chromium: ${missing}`)
  return missing
}
