// Lint and format are checked by a tool, in `npm test`: Biome (biome.json) over controller/, test/,
// bench/ and scripts/. A finding fails this test with Biome's own report; `npx biome check --write`
// fixes what it can.
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'

const root = join(import.meta.dirname, '..')
const biome = join(root, 'node_modules', '.bin', 'biome')

async function check(cwd: string): Promise<{ code: number; output: string }> {
  const run = promisify(execFile)(biome, ['ci', '--colors=off', '--max-diagnostics=50', '.'], { cwd, maxBuffer: 16 * 1024 * 1024 })
  return run.then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({
      code: err.code ?? 1,
      output: (err.stdout ?? '') + (err.stderr ?? ''),
    }),
  )
}

t.test('biome ci finds no lint or format problem', async (t) => {
  const { code, output } = await check(root)
  t.equal(code, 0, output)
})

t.test('biome ci fails on a lint problem and on unformatted code', async (t) => {
  const dir = t.testdir({
    'biome.json': `{ "extends": ["${join(root, 'biome.json').replaceAll('\\', '/')}"], "vcs": { "enabled": false } }`,
    controller: {
      'unformatted.ts': 'export const a = {b:1}\n',
      'lint.ts': 'export const f = (x: number) => { let y = 1; return x == y }\n',
    },
  })
  const { code, output } = await check(dir)
  t.not(code, 0)
  t.match(output, /controller\/unformatted\.ts format/)
  t.match(output, /controller\/lint\.ts:1:\d+ lint\/suspicious\/noDoubleEquals/)
})
