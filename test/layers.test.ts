// The folders of controller/ import one way only (.dependency-cruiser.cjs): no upward or sideways
// import, no cycle. The same rules run over a scratch tree to show they catch what they forbid.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

const root = join(import.meta.dirname, '..')
const config = join(root, '.dependency-cruiser.cjs')
const depcruise = join(root, 'node_modules', '.bin', 'depcruise')

interface Violation {
  rule: { name: string }
  from: string
  to: string
}

async function cruise(cwd: string): Promise<Violation[]> {
  // depcruise exits non-zero when it finds violations; its JSON report is on stdout either way.
  const run = await promisify(execFile)(depcruise, ['controller', '--config', config, '--output-type', 'json'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }))
  return (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations
}

t.test('controller/ has no upward or sideways import and no cycle', async (t) => {
  const violations = await cruise(root)
  t.same(
    violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`),
    [],
  )
})

t.test('the rules catch an upward import, a sideways import and a cycle', async (t) => {
  const dir = t.testdir({})
  const write = (path: string, text: string): void => {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  write('tsconfig.json', '{}')
  write('controller/cli/main.ts', 'export const main = 1\n')
  write('controller/model/up.ts', "import { main } from '../cli/main.js'\nexport const up = main\n")
  write('controller/delivery/side.ts', "import { s } from '../sources/s.js'\nexport const side = s\n")
  write('controller/sources/s.ts', 'export const s = 1\n')
  write('controller/match/a.ts', "import { b } from './b.js'\nexport const a = () => b\n")
  write('controller/match/b.ts', "import { a } from './a.js'\nexport const b = () => a\n")
  // A cycle is reported once, at the first module of it that depcruise reaches.
  const found = (await cruise(dir)).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort()
  t.same(found, [
    'delivery-not-sideways: controller/delivery/side.ts → controller/sources/s.ts',
    'model-not-up: controller/model/up.ts → controller/cli/main.ts',
    'no-cycle: controller/match/a.ts → controller/match/b.ts',
  ])
})
