// A cached list+watch of one resource (client-node's ListWatch) that keeps itself running: after a
// watch error it lists and watches again with backoff; on 410 Gone (the watch's resourceVersion is
// too old) ListWatch lists again, and objects deleted meanwhile are reported as deletions, so no
// change is lost. Several namespaces are several ListWatches behind one cache interface.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node'
import type { Logger } from '../log.js'
import { apiErrorMessage } from './api-error.js'

export type ChangeType = 'add' | 'update' | 'delete'

export interface InformerOptions<T extends KubernetesObject> {
  /** What is watched, for logs, e.g. `webhooks`. */
  resource: string
  /** One entry per namespace watched (or one for the whole cluster); list must apply the same fieldSelector. */
  sources: Array<{ path: string; list: () => Promise<KubernetesListObject<T>>; fieldSelector?: string }>
  onChange: (type: ChangeType, object: T) => void
  log: Logger
  /** Backoff after a failed list or watch; doubles up to maxBackoffMs. Default 1 s. */
  backoffMs?: number
  maxBackoffMs?: number
}

export interface Informer<T extends KubernetesObject> {
  get(namespace: string, name: string): T | undefined
  list(): T[]
  /** Resolves once every source has listed once. */
  readonly synced: Promise<void>
  /** Lists made after the first (after a 410 Gone or a failed watch). */
  readonly relists: number
  stop(): Promise<void>
}

export function startInformer<T extends KubernetesObject>(kc: KubeConfig, o: InformerOptions<T>): Informer<T> {
  let stopped = false
  // ListWatch.stop() aborts only a watch already open: one it starts after a list that was in
  // flight during stop() would stay open for good. This Watch opens none once stopped.
  const watch = new (class extends Watch {
    override async watch(...args: Parameters<Watch['watch']>): Promise<AbortController> {
      const controller = stopped ? new AbortController() : await super.watch(...args)
      if (stopped) controller.abort()
      return controller
    }
  })(kc)
  const base = o.backoffMs ?? 1000
  const max = o.maxBackoffMs ?? 30_000
  let relists = 0
  const syncs: Array<Promise<void>> = []
  const watches = o.sources.map((source) => {
    let listed = false
    let failures = 0
    let timer: NodeJS.Timeout | undefined
    let resolveSynced!: () => void
    syncs.push(new Promise<void>((resolve) => (resolveSynced = resolve)))
    const list = async (): Promise<KubernetesListObject<T>> => {
      if (listed) {
        relists++
        o.log.info({ resource: o.resource, path: source.path }, 'listing again (the watch expired or failed)')
      }
      const result = await source.list()
      listed = true
      failures = 0
      // ListWatch adds the listed objects right after this resolves; synced follows them.
      setImmediate(resolveSynced)
      return result
    }
    const lw = new ListWatch<T>(source.path, watch, list, false, undefined, source.fieldSelector)
    lw.on('add', (obj) => stopped || o.onChange('add', obj))
    lw.on('update', (obj) => stopped || o.onChange('update', obj))
    lw.on('delete', (obj) => stopped || o.onChange('delete', obj))
    lw.on('error', (err) => {
      if (stopped) return
      failures++
      const delay = Math.min(max, base * 2 ** (failures - 1))
      o.log.warn(
        { resource: o.resource, path: source.path, err: apiErrorMessage(err), retryInMs: delay },
        `watching ${o.resource} failed; trying again`,
      )
      timer = setTimeout(() => void lw.start().catch(() => {}), delay)
      timer.unref()
    })
    void lw.start().catch(() => {})
    return { lw, clear: () => timer && clearTimeout(timer) }
  })
  return {
    get: (namespace, name) => {
      for (const w of watches) {
        const found = w.lw.get(name, namespace)
        if (found) return found
      }
      return undefined
    },
    list: () => watches.flatMap((w) => w.lw.list()),
    synced: Promise.all(syncs).then(() => {}),
    get relists() {
      return relists
    },
    stop: async () => {
      stopped = true
      for (const w of watches) {
        w.clear()
        await w.lw.stop()
      }
    },
  }
}
