// The layers of controller/, top to bottom (docs/development.md, "How the code is laid out"): an import may only
// point down this list, never up, and never sideways between the folders of one row. No cycles.
const LAYERS = [
  ['cli'],
  ['app'],
  ['kubernetes', 'server', 'plan'],
  ['sources', 'delivery'],
  ['reconcile'],
  ['match', 'template'],
  ['model'],
  ['api'],
]
const folder = (name) => `^controller/${name}/`
const forbidden = [
  { name: 'no-cycle', severity: 'error', comment: 'Modules must not import each other in a circle.', from: {}, to: { circular: true } },
  {
    name: 'not-to-unresolvable',
    severity: 'error',
    comment: 'An import that does not resolve to a file is a typo or a missing dependency.',
    from: {},
    to: { couldNotResolve: true },
  },
]
LAYERS.forEach((row, i) => {
  const above = LAYERS.slice(0, i).flat()
  for (const name of row) {
    if (above.length > 0) {
      forbidden.push({
        name: `${name}-not-up`,
        severity: 'error',
        comment: `${name}/ sits below ${above.join(', ')}: it must not import from them.`,
        from: { path: folder(name) },
        to: { path: `^controller/(${above.join('|')})/` },
      })
    }
    const siblings = row.filter((other) => other !== name)
    if (siblings.length > 0) {
      forbidden.push({
        name: `${name}-not-sideways`,
        severity: 'error',
        comment: `${name}/ and ${siblings.join(', ')} are siblings: neither imports the other (move what both need down a layer).`,
        from: { path: folder(name) },
        to: { path: `^controller/(${siblings.join('|')})/` },
      })
    }
  }
})
// The files at the top of controller/ (errors, log, version) are the bottom layer: they import no folder.
forbidden.push({
  name: 'root-not-up',
  severity: 'error',
  comment: 'controller/errors.ts, log.ts and version.ts are the bottom layer: they import no folder of controller/.',
  from: { path: '^controller/[^/]+\\.ts$' },
  to: { path: '^controller/[^/]+/' },
})

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden,
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'], exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
}
