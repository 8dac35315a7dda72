// What main.ts hands each command module: every module exports register(cli, ctx), which adds its
// command (or group of commands) to the program.
import type { CliIO } from './io.js'

export interface CommandContext {
  /** Where the command prints. */
  io: CliIO
  /** The exit status of `hookwise`, once the command has run. */
  setStatus: (status: number) => void
}
