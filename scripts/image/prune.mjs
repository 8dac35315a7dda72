// Removes from an installed node_modules what nothing loads at run time: type declarations, source
// maps, Markdown (licence files stay), native prebuilds for other platforms than the one running
// this (prebuilds/<platform>-<arch>*, kept for this one), and better-sqlite3's C sources and build
// intermediates (its compiled build/Release/better_sqlite3.node stays). Plain JavaScript without dependencies, so both
// image builds run it: the Dockerfile's deps stage and `npm run image` (scripts/image/stage.ts).
// Every package.json stays, so `npm sbom` still lists every package.
//
//   node prune.mjs node_modules
import { existsSync, lstatSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'

const platform = `${process.platform}-${process.arch}`
const dropFile = /\.(d\.[cm]?ts|map|md|markdown)$/i
const keepFile = /^(licen[cs]e|notice|copying)/i

/** Bytes of a file or of everything below a folder (symbolic links not followed). */
function bytes(path) {
  const s = lstatSync(path)
  return s.isDirectory() ? readdirSync(path).reduce((sum, name) => sum + bytes(join(path, name)), 0) : s.size
}

function remove(path) {
  if (!existsSync(path)) return 0
  const n = bytes(path)
  rmSync(path, { recursive: true, force: true })
  return n
}

function pruneFiles(dir) {
  let removed = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory() && entry.name === 'prebuilds') {
      for (const target of readdirSync(path)) if (!target.startsWith(platform)) removed += remove(join(path, target))
    } else if (entry.isDirectory()) removed += pruneFiles(path)
    else if (entry.isFile() && dropFile.test(entry.name) && !keepFile.test(entry.name)) removed += remove(path)
  }
  return removed
}

const root = process.argv[2] ?? 'node_modules'
let removed = pruneFiles(root)
const sqlite = join(root, 'better-sqlite3')
const listed = (dir) => (existsSync(dir) ? readdirSync(dir) : [])
for (const sub of ['deps', 'src']) removed += remove(join(sqlite, sub))
for (const name of listed(join(sqlite, 'build'))) if (name !== 'Release') removed += remove(join(sqlite, 'build', name))
for (const name of listed(join(sqlite, 'build', 'Release')))
  if (name !== 'better_sqlite3.node') removed += remove(join(sqlite, 'build', 'Release', name))
console.log(`prune: removed ${(removed / 1048576).toFixed(1)} MB from ${root}`)
