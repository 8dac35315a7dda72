// Follows a folder of manifests (and a secrets folder): loads it, then reloads on every change,
// debounced, and hands each new desired state on (its diagnostics logged). A reload that fails keeps the last state.
import { watch, type FSWatcher } from 'chokidar'
import type { Logger } from '../log.js'
import { emptyState, type DesiredStateSource } from './desired-state-source.js'
import { logDiagnostics } from './log-diagnostics.js'
import { LoadCache, loadDesiredState, type FolderSources, type LoadedState } from './load.js'

export function folderSource(sources: FolderSources, options: { log: Logger; debounceMs?: number }): DesiredStateSource<LoadedState> {
  const onError = (err: unknown): void => options.log.error({ err }, 'reloading the manifests failed; keeping the last state')
  let current: LoadedState = { ...emptyState(), files: [] }
  let watcher: FSWatcher | undefined
  let timer: NodeJS.Timeout | undefined
  let loading: Promise<void> = Promise.resolve()
  let stopped = false
  // A change re-parses and re-validates only the files it touched (issue 22).
  const cache = new LoadCache()
  return {
    get state() {
      return current
    },
    async start(onState) {
      current = await loadDesiredState(sources, cache)
      logDiagnostics(current, options.log)
      onState(current)
      const reload = (): void => {
        loading = loading.then(async () => {
          if (stopped) return
          try {
            const started = performance.now()
            current = await loadDesiredState(sources, cache)
            options.log.info({ files: current.files.length, loadMs: Math.round(performance.now() - started) }, 'manifests reloaded')
            logDiagnostics(current, options.log)
            onState(current)
          } catch (err) {
            onError(err)
          }
        })
      }
      watcher = watch([...sources.manifests, ...(sources.secrets ?? [])], {
        ignoreInitial: true,
        awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 },
      })
      watcher.on('all', () => {
        if (timer) clearTimeout(timer)
        timer = setTimeout(reload, options.debounceMs ?? 200)
      })
      watcher.on('error', onError)
      const ready = watcher
      await new Promise<void>((resolve) => ready.once('ready', () => resolve()))
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await watcher?.close()
      await loading
    },
  }
}
