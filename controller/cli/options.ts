// Small pieces shared by the command definitions.
import { readFileSync } from 'node:fs'
import { UsageError } from '../errors.js'

/** Commander parser for a repeatable option: each use adds a value. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** The bearer token a client command sends: the first line of --token-file, else HOOKWISE_INTAKE_TOKEN. */
export function clientToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (!tokenFile) return env.HOOKWISE_INTAKE_TOKEN?.trim() || undefined
  try {
    return readFileSync(tokenFile, 'utf8').split('\n')[0]!.trim()
  } catch {
    throw new UsageError(`--token-file ${tokenFile} cannot be read`)
  }
}
