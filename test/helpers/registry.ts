// A real OCI registry on 127.0.0.1: go-containerregistry's pkg/registry (in memory, the Docker
// Registry HTTP API V2 that `podman push` and `podman pull` speak), from test/tools/registry, built
// once and cached by test/tools/go-build.ts like git-sshd (in `pretest`, or by the first test that
// needs it). Stopped when the test ends (its stdin closes).
//
//   const registry = await useRegistry(t)      // undefined: the file was skipped (no Go); fails in CI
//   const { address } = await registry.serve(t) // 127.0.0.1:PORT
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { TAP } from 'tap'
import { buildToolSet, cacheFolder, findGo, harnessConfig, isBuilt, type GoToolSet, type HarnessConfig } from '../tools/go-build.js'
import type { TapTest } from './cli.js'

const source = join(import.meta.dirname, '..', 'tools', 'registry')

export async function registryToolSet(cfg: HarnessConfig): Promise<GoToolSet> {
  const builds = (out: string) => [
    {
      what: 'registry (github.com/google/go-containerregistry/pkg/registry)',
      module: '.',
      args: ['-ldflags', '-s -w', '-o', join(out, 'registry'), '.'],
    },
  ]
  return {
    label: 'registry',
    purpose: 'the OCI registry of the image tests',
    source,
    goMod: join(source, 'go.mod'),
    dir: await cacheFolder(cfg, 'registry', source, builds('')),
    binaries: ['registry'],
    builds,
  }
}

export interface RegistryTool {
  serve(t: TapTest): Promise<{ address: string }>
}

/** The built registry, or undefined after skipping the file (failing it in CI) when Go is missing. */
export async function useRegistry(t: TAP): Promise<RegistryTool | undefined> {
  const cfg = harnessConfig()
  const set = await registryToolSet(cfg)
  if (!isBuilt(set)) {
    const go = await findGo(cfg, set)
    if (!go.ok) {
      if (cfg.ci) t.fail(`the registry tests must run in CI, but: ${go.reason}`)
      else t.comment(`registry tests skipped: ${go.reason}`)
      return undefined
    }
    t.comment('the registry is not built yet; building it now (`npm test` does this in pretest)')
    await buildToolSet(cfg, set, (line) => console.error(line))
  }
  const bin = join(set.dir, 'bin', 'registry')
  return {
    serve: async (t) => {
      // stdin stays open: the registry exits when it closes, i.e. when this process ends.
      const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
      const address = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`registry exited (${code}): ${stderr.trim()}`)))
        createInterface({ input: child.stdout }).once('line', resolve)
      })
      t.teardown(async () => {
        if (child.exitCode !== null) return
        const gone = new Promise((r) => child.once('exit', r))
        child.stdin.end()
        await gone
      })
      return { address }
    },
  }
}
