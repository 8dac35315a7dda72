// Small pieces shared by the command definitions.
import { readFileSync } from 'node:fs'
import { InvalidArgumentError } from 'commander'
import { UsageError } from '../errors.js'

/** Commander parser for a repeatable option: each use adds a value. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

/** Commander parser for a count: a whole number from 1. */
export function positive(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('expected a positive whole number')
  return Number(value)
}

/** Commander parser for --timestamp: whole seconds since 1970. */
export function unixSeconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number of seconds since 1970')
  return Number(value)
}

/** The bearer token a client command sends: the first line of --token-file, else HOOKWISE_INTAKE_TOKEN. */
export function clientToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (!tokenFile) return env.HOOKWISE_INTAKE_TOKEN?.trim() || undefined
  try {
    return readFileSync(tokenFile, 'utf8').split('\n')[0]!.trim()
  } catch {
    throw new UsageError(`--token-file ${tokenFile} cannot be read`)
  }
}
