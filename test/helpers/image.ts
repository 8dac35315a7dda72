// The container image `npm run image` builds (scripts/image/build.ts), for tests that run it with
// podman: built once per set of inputs and cached (in `pretest`, or by the first test that needs
// it), then run by image ID. Without root on Debian (the build installs Debian packages) the file
// is skipped with a one-line reason; in CI that is a failure. HOOKWISE_IMAGE=0 skips it locally.
//
//   const image = await useImage(t)              // undefined: the file was skipped
//   const c = image.run(t, ['--network=host', ...], ['run', '--dir', '/manifests', ...])
//   await c.url()                                // from its "hookwise is running" line
import type { TAP } from 'tap'
import { type BuiltImage, ensureImage } from '../../scripts/image/build.js'
import { hostProblem } from '../../scripts/image/host-tools.js'
import { containersEnv, run } from '../../scripts/image/recipe.js'
import { harnessConfig } from '../tools/go-build.js'
import { type HookwiseProcess, startLogged } from './hookwise-process.js'

export interface ImageUnderTest {
  image: BuiltImage
  /** `podman ARGS` with the project's containers.conf: exit code and output. */
  podman(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>
  /** `podman run --rm --name NAME PODMAN_ARGS IMAGE ARGS`, attached; removed at teardown. `ref`: another name of the image (a digest). */
  run(t: { teardown(fn: () => unknown): void }, podmanArgs: string[], args: string[], ref?: string): ImageContainer
}

export interface ImageContainer extends HookwiseProcess {
  name: string
  /** `podman kill --signal S NAME`, then the `podman run` client's exit. */
  signal(signal: 'SIGKILL' | 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export function imageSkipReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.HOOKWISE_IMAGE === '0' && !harnessConfig(env).ci) return 'HOOKWISE_IMAGE=0 is set'
  const problem = hostProblem()
  if (problem) return problem
  if (process.getuid?.() !== 0) return 'podman runs the image as root here (rootless podman needs subordinate ids); run as root'
  return undefined
}

let containers = 0

export async function useImage(t: TAP): Promise<ImageUnderTest | undefined> {
  const reason = imageSkipReason()
  if (reason) {
    if (harnessConfig().ci) t.fail(`the image tests must run in CI, but: ${reason}`)
    else t.plan(0, `image tests skipped: ${reason}`)
    return undefined
  }
  // A cold build (better-sqlite3's compile above all) takes minutes; `pretest` usually did it.
  t.setTimeout(40 * 60_000)
  const image = await ensureImage((line) => t.comment(line))
  t.comment(`${image.tag} ${image.id.slice(0, 12)}: ${image.cached ? 'cached' : `built in ${image.seconds} s`}`)
  const env = containersEnv()
  const podman = (args: string[]) =>
    run('podman', args, { env }).then(
      (stdout) => ({ code: 0, stdout, stderr: '' }),
      (err: Error) => ({ code: Number(/exited (\d+)/.exec(err.message)?.[1] ?? 1), stdout: '', stderr: err.message }),
    )
  return {
    image,
    podman,
    run: (tt, podmanArgs, args, ref = image.id) => {
      const name = `hookwise-test-${process.pid}-${++containers}`
      const p = startLogged('podman', ['run', '--rm', '--name', name, ...podmanArgs, ref, ...args], tt, env)
      tt.teardown(() => podman(['rm', '--force', '--time', '0', name]))
      return {
        ...p,
        name,
        signal: async (signal) => {
          await podman(['kill', '--signal', signal, name])
          return p.exited
        },
      }
    },
  }
}
