// `hookwise diff --kubernetes`: what applying a folder would change in the cluster — the comparison of
// `hookwise plan`, with the cluster's Webhooks and Automations as the base. Only lists; never writes.
import { stat } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { relative, resolve, sep } from 'node:path'
import { API_GROUP_VERSION } from '../api/schemas.js'
import { UsageError } from '../errors.js'
import type { NamespaceScope } from '../kubernetes/cluster-revision.js'
import { code, formatMarkdown, MAX_COMMENT_CHARS, type MarkdownWording } from '../plan/markdown.js'
import { computePlan, type Plan, type PlanRevision } from '../plan/plan.js'
import { storedForm } from '../plan/stored-form.js'
import { DEFAULT_NAMESPACE } from '../model/desired-state.js'
import { validateObjects } from '../reconcile/validate.js'
import type { ManifestObject } from '../model/manifest-object.js'
import { loadRevision } from '../sources/revision-state.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { collect } from './options.js'
import { PLAN_FORMATS, readEvents, type PlanFormat } from './plan.js'

/** The first line of every diff in markdown. */
export const DIFF_HEADING = '### hookwise diff'
/** Where a cluster object is, in place of file:line. */
export const CLUSTER_LOCATION = 'cluster'

export interface DiffOptions {
  /** Manifests folder, relative to the current folder. */
  path: string
  kubeconfig?: string
  /** Namespaces to read besides those of the folder's objects. */
  namespace?: string[]
  allNamespaces?: boolean
  format: PlanFormat
  /** Folder of event JSON files to preview automations with. */
  events?: string
  /** The folder to run in; the current folder by default. */
  cwd?: string
}

/** The json output: the plan, and which cluster and namespaces it was compared with. */
export interface ClusterDiff extends Plan {
  cluster: { context: string; server: string; namespaces: string[] | 'all' }
}

const isResource = (o: ManifestObject): boolean => o.apiVersion === API_GROUP_VERSION && (o.kind === 'Webhook' || o.kind === 'Automation')
const isSecret = (o: ManifestObject): boolean => o.apiVersion === 'v1' && o.kind === 'Secret'
const namespaceOf = (o: ManifestObject): string | undefined => {
  const ns = (o.body.metadata as { namespace?: unknown } | undefined)?.namespace
  return typeof ns === 'string' ? ns : undefined
}

/** Prints the diff; 0 when the folder is valid, 1 when not. A missing folder is a UsageError (2); the cluster's errors are HW_KUBECONFIG / HW_KUBERNETES_API (1). */
export async function diffCommand(options: DiffOptions, io: CliIO): Promise<number> {
  const cwd = resolve(options.cwd ?? process.cwd())
  const dir = resolve(cwd, options.path)
  if (!(await stat(dir).catch(() => undefined)))
    throw new UsageError(`--path ${options.path} does not exist`, 'give the folder of manifests, relative to the current folder')
  // Loaded here: the Kubernetes client is about 80 MB of resident memory, and every command line imports this file.
  const [{ readClusterRevision }, { loadKubeConfig }] = await Promise.all([
    import('../kubernetes/cluster-revision.js'),
    import('../kubernetes/kube-config.js'),
  ])
  const kc = loadKubeConfig(options.kubeconfig)
  const context = kc.getCurrentContext()
  const contextNamespace = kc.getContextObject(context)?.namespace
  const events = options.events === undefined ? [] : await readEvents(options.events, io)

  const folder = await loadRevision(cwd, relative(cwd, dir).split(sep).join('/'), [])
  const resources = folder.objects.filter(isResource)
  const unnamespaced = resources.filter((o) => namespaceOf(o) === undefined).length
  if (unnamespaced && contextNamespace && contextNamespace !== DEFAULT_NAMESPACE) {
    io.err(
      `note: ${unnamespaced} object${unnamespaced === 1 ? ' has' : 's have'} no metadata.namespace: hookwise reads ${unnamespaced === 1 ? 'it' : 'them'} as namespace ${DEFAULT_NAMESPACE}, ` +
        `but kubectl apply with context ${context} puts ${unnamespaced === 1 ? 'it' : 'them'} in namespace ${contextNamespace}; set metadata.namespace in the files\n`,
    )
  }

  let scope: NamespaceScope
  if (options.allNamespaces) {
    scope = 'all'
  } else {
    const named = new Set([...resources.map((o) => namespaceOf(o) ?? DEFAULT_NAMESPACE), ...(options.namespace ?? [])])
    // An empty folder still shows what it would replace: the namespace kubectl would use.
    if (!named.size) named.add(contextNamespace || DEFAULT_NAMESPACE)
    scope = [...named].sort()
  }
  const cluster = await readClusterRevision(kc, scope)

  const base: PlanRevision = {
    ref: `cluster ${context}`,
    state: cluster.state,
    objects: cluster.objects.map((o) => ({ ...o, source: { ...o.source, file: CLUSTER_LOCATION } })),
  }
  // The folder as the cluster would store it once applied, so that defaults the API server fills in
  // are no change and previews show the body that would be sent; its problems as found in the files.
  const stored = storedForm(folder.objects)
  const head: PlanRevision = {
    ref: `folder ${options.path}`,
    state: { ...validateObjects(stored), diagnostics: folder.state.diagnostics },
    // Secrets are not compared: the cluster's are never read (previews mask every secret anyway).
    objects: stored.filter((o) => !isSecret(o)),
  }
  const plan = computePlan({ base, head, path: options.path, events, checkSecrets: false })
  const server = kc.getCurrentCluster()?.server ?? ''

  if (options.format === 'json') {
    const out: ClusterDiff = { ...plan, cluster: { context, server, namespaces: scope === 'all' ? 'all' : [...scope] } }
    io.out(`${JSON.stringify(out, null, 2)}\n`)
  } else {
    io.out(formatMarkdown(plan, MAX_COMMENT_CHARS, diffWording(context, scope, folder.objects.some(isSecret))))
  }
  return plan.valid ? 0 : 1
}

function diffWording(context: string, scope: NamespaceScope, folderHasSecrets: boolean): MarkdownWording {
  const namespaces = scope === 'all' ? 'all namespaces' : `namespace${scope.length === 1 ? '' : 's'} ${scope.map(code).join(', ')}`
  return {
    heading: DIFF_HEADING,
    sides: (plan) => `cluster ${code(context)} (${namespaces}) → folder ${code(plan.path)}`,
    head: 'folder',
    deadline: 'before applying',
    command: 'hookwise diff --kubernetes',
    empty: 'No Webhook or Automation objects in the folder or in the cluster.',
    ...(folderHasSecrets ? { note: '_Secrets are not compared: `hookwise diff` does not read Secrets from the cluster._' } : {}),
  }
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('diff')
    .description('show what applying a folder would change in the cluster (read-only; for teams that apply with kubectl)')
    .requiredOption('--kubernetes', 'compare with the Webhooks and Automations in the Kubernetes cluster')
    .option('--path <dir>', 'folder of manifests, relative to the current folder', '.')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--namespace <ns>', "also read this namespace; the folder's namespaces are always read (repeatable)", collect)
    .addOption(new Option('--all-namespaces', 'read every namespace').conflicts('namespace'))
    .addOption(new Option('--format <format>', 'output format').choices(PLAN_FORMATS).default('markdown'))
    .option('--events <dir>', 'folder of event JSON files to preview requests with (default: built-in samples)')
    .action(async (opts: DiffOptions & { kubernetes: true }) => {
      setStatus(await diffCommand(opts, io))
    })
}
