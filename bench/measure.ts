// Helpers the benchmarks share: numeric knobs from the environment, CPU time from /proc, medians.
import { readFileSync } from 'node:fs'

/** A positive number from the environment variable `name`, or `fallback` when it is unset. */
export function positiveEnv(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback)
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`)
  return v
}

/**
 * CPU seconds (user + system) a process has used so far, or with `thread` its main thread alone (the
 * task whose id is the process's), from /proc (Linux); undefined elsewhere.
 */
export function cpuSeconds(pid: number | undefined, thread?: 'main'): number | undefined {
  if (pid === undefined) return undefined
  if (pid === process.pid && !thread) {
    const u = process.cpuUsage()
    return (u.user + u.system) / 1e6
  }
  try {
    const fields = readFileSync(thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
      .split(') ')[1]!
      .split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime in clock ticks (USER_HZ is 100 on Linux)
  } catch {
    return undefined
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

/** Resident memory of a process now and at its peak (VmRSS, VmHWM from /proc, in MB); undefined elsewhere. */
export function memoryMb(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) }
  } catch {
    return undefined
  }
}
