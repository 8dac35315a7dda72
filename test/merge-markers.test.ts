// A merge left half-resolved commits `<<<<<<<` / `>>>>>>>` lines, which Markdown renders as text and
// YAML or JSON may not even reject (docs/performance.md carried one for an hour). Every tracked text
// file is checked; binary files (a NUL byte) are skipped.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = join(import.meta.dirname, '..')
// Built, so this file does not match itself.
const MARKER = new RegExp(`^(${'<'.repeat(7)} |${'>'.repeat(7)} |${'='.repeat(7)}$)`, 'm')

export function filesWithMarkers(dir: string): string[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: dir, encoding: 'utf8' }).split('\0').filter(Boolean)
  const found: string[] = []
  for (const file of files) {
    let text: Buffer
    try {
      text = readFileSync(join(dir, file))
    } catch {
      continue // deleted in the working tree
    }
    if (text.includes(0)) continue
    const s = text.toString('utf8')
    const m = MARKER.exec(s)
    if (m) found.push(`${file}:${s.slice(0, m.index).split('\n').length}`)
  }
  return found
}

t.test('no tracked file holds a merge conflict marker', async (t) => {
  t.same(filesWithMarkers(root), [])
})

t.test('a conflict marker is found, with its file and line', async (t) => {
  const dir = t.testdir({ 'a.md': `# A\n\n${'<'.repeat(7)} HEAD\nours\n${'='.repeat(7)}\ntheirs\n${'>'.repeat(7)} b\n`, 'b.md': 'fine\n' })
  execFileSync('git', ['init', '-q'], { cwd: dir })
  execFileSync('git', ['add', '.'], { cwd: dir })
  t.same(filesWithMarkers(dir), ['a.md:3'])
})
