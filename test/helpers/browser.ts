// Debian's Chromium driven by playwright-core, for the dashboard's browser test and benchmark: a
// fresh profile folder per launch (removed at teardown), the flags of test/tools/chromium.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import { CHROMIUM, CHROMIUM_ARGS } from '../tools/chromium.js'

export async function launchBrowser(t: { teardown(fn: () => unknown): void }, options: { width?: number } = {}): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'hookwise-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: options.width ?? 1280, height: 900 },
  })
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context
}
