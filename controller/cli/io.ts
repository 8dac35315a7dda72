import { readFile } from 'node:fs/promises'
import { HookwiseError } from '../errors.js'

/** Where a command writes; tests pass buffers, the binary passes the process's streams. */
export interface CliIO {
  out(text: string): void
  err(text: string): void
  /** Reads standard input (for `--event -`). */
  stdin(): Promise<string>
}

export const processIO: CliIO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  stdin: async () => {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  },
}

/** Reads a file given on the command line, or standard input for `-`. */
export async function readInput(path: string, io: CliIO): Promise<string> {
  if (path === '-') return io.stdin()
  try {
    return await readFile(path, 'utf8')
  } catch {
    throw new HookwiseError('HW_PATH_NOT_FOUND', `${path} does not exist or cannot be read`, {
      hint: 'check the path; it is relative to the current folder',
    })
  }
}
