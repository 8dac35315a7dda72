// Starts a worker thread from a module of this folder: the compiled .js as it is; from source
// (tests and benchmarks run under tsx) the thread registers tsx first, since a worker does not
// inherit tsx's loader (https://github.com/privatenumber/tsx/issues/354).
import { Worker } from 'node:worker_threads'

/** `name` without extension, e.g. './sender-thread'; `entry` overrides it (tests). */
export function startModuleThread(name: string, workerData: unknown, entry?: URL): Worker {
  const url = entry ?? new URL(`${name}${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url)
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData })
  // tsx is resolved here, from this package, not from the worker's working directory.
  const tsx = import.meta.resolve('tsx/esm/api')
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`
  return new Worker(code, { eval: true, workerData })
}
