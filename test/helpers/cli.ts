import { runCli } from '../../controller/cli/main.js'

export interface CliRun {
  status: number
  stdout: string
  stderr: string
}

/** Runs the hookwise command line in this process, capturing what it prints. */
export async function hookwise(args: string[], stdin = ''): Promise<CliRun> {
  let stdout = ''
  let stderr = ''
  const status = await runCli(args, {
    out: (t) => {
      stdout += t
    },
    err: (t) => {
      stderr += t
    },
    stdin: async () => stdin,
  })
  return { status, stdout, stderr }
}

/** The type of the `t` a tap test callback receives. */
export type TapTest = Parameters<Parameters<typeof import('tap').default.test>[0]>[0]
