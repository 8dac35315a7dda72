// Helpers for tests against the real control plane (test/k8s/fixture.ts): apply YAML, read objects
// as JSON, wait for a condition, parse kubectl tables.
import type { ControlPlane } from '../k8s/fixture.js'

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: {
    name: string
    namespace?: string
    generation?: number
    uid?: string
    resourceVersion?: string
    annotations?: Record<string, string>
  }
  spec?: any
  status?: any
}

export interface Kube {
  apply(yaml: string, namespace?: string): Promise<void>
  get(resource: string, namespace: string, name: string): Promise<KubeObject | undefined>
  list(resource: string, namespace: string): Promise<KubeObject[]>
  kubectl(args: string[], input?: string): Promise<string>
  /** `metadata`: more metadata fields as YAML lines, e.g. `labels: {a: b}`. */
  createNamespace(name: string, metadata?: string): Promise<void>
  /** The events.k8s.io/v1 Events of a namespace. */
  events(namespace: string): Promise<
    Array<{
      reason: string
      type: string
      note: string
      action: string
      regarding: { kind: string; name: string }
      reportingController: string
      series?: { count: number }
    }>
  >
}

export function kube(cluster: ControlPlane): Kube {
  const kubectl = async (args: string[], input?: string): Promise<string> => {
    const r = await cluster.kubectl(args, input === undefined ? {} : { input })
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`)
    return r.stdout
  }
  const k: Kube = {
    kubectl,
    apply: async (yaml, namespace) => void (await kubectl(['apply', ...(namespace ? ['-n', namespace] : []), '-f', '-'], yaml)),
    get: async (resource, namespace, name) => {
      const r = await cluster.kubectl(['get', resource, name, '-n', namespace, '-o', 'json'])
      if (r.code !== 0) {
        if (/NotFound/.test(r.stderr)) return undefined
        throw new Error(`kubectl get ${resource} ${name} failed: ${r.stderr}`)
      }
      return JSON.parse(r.stdout) as KubeObject
    },
    list: async (resource, namespace) =>
      (JSON.parse(await kubectl(['get', resource, '-n', namespace, '-o', 'json'])) as { items: KubeObject[] }).items,
    createNamespace: async (name, metadata = '') =>
      k.apply(
        `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n${metadata
          .split('\n')
          .filter(Boolean)
          .map((l) => `  ${l}\n`)
          .join('')}`,
      ),
    events: async (namespace) =>
      (JSON.parse(await kubectl(['get', 'events.events.k8s.io', '-n', namespace, '-o', 'json'])) as { items: any[] }).items,
  }
  return k
}

/** The condition of a type from an object's status. */
export const condition = (
  o: KubeObject | undefined,
  type: string,
): { type: string; status: string; reason: string; message: string; observedGeneration?: number; lastTransitionTime: string } | undefined =>
  o?.status?.conditions?.find((c: { type: string }) => c.type === type)

/**
 * `kubectl get` output as header and rows keyed by column name. Columns are cut at the header's
 * positions, since an empty cell (a printer column with no value) is just spaces.
 */
export function parseTable(output: string): { header: string[]; rows: Array<Record<string, string>> } {
  const [headerLine = '', ...lines] = output.trimEnd().split('\n')
  const columns = [...headerLine.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], start: m.index }))
  const rows = lines.map((line) =>
    Object.fromEntries(columns.map((c, i) => [c.name, line.slice(c.start, columns[i + 1]?.start ?? line.length).trim()])),
  )
  return { header: columns.map((c) => c.name), rows }
}
