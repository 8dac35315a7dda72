// Follows a folder of manifests (and a secrets folder): loads it, then reloads on every change,
// debounced, and hands each new desired state to `apply`. A reload that fails keeps the last state.
import { watch, type FSWatcher } from 'chokidar'
import { loadDesiredState, type FolderSources, type LoadedState } from './load.js'

export interface FolderWatch {
  /** The state loaded last. */
  current(): LoadedState
  close(): Promise<void>
}

export async function watchFolders(
  sources: FolderSources,
  apply: (state: LoadedState) => void,
  options: { debounceMs?: number; onError?: (err: unknown) => void } = {},
): Promise<FolderWatch> {
  let current = await loadDesiredState(sources)
  apply(current)
  let timer: NodeJS.Timeout | undefined
  let loading: Promise<void> = Promise.resolve()
  const reload = (): void => {
    loading = loading.then(async () => {
      try {
        current = await loadDesiredState(sources)
        apply(current)
      } catch (err) {
        options.onError?.(err)
      }
    })
  }
  const watcher: FSWatcher = watch([...sources.manifests, ...(sources.secrets ?? [])], { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } })
  watcher.on('all', () => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(reload, options.debounceMs ?? 200)
  })
  watcher.on('error', (err) => options.onError?.(err))
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()))
  return {
    current: () => current,
    close: async () => {
      if (timer) clearTimeout(timer)
      await watcher.close()
      await loading
    },
  }
}
