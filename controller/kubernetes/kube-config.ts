// Where the Kubernetes API is and how to authenticate: --kubeconfig, else $KUBECONFIG or
// ~/.kube/config, else the in-cluster service account (the chart's Deployment).
import { KubeConfig, type RequestContext } from '@kubernetes/client-node'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { HookwiseError } from '../errors.js'

/** How long an API request (not a watch) may take before it fails with an AbortError. */
export const API_REQUEST_TIMEOUT_MS = 30_000

/**
 * A KubeConfig whose API clients give up on a request after a timeout. client-node sets none, so
 * in a network partition a status write or Event could wait forever, and a replica that lost its
 * Lease would never finish stopping. Watches are not API-client requests and stay open.
 */
export class TimeoutKubeConfig extends KubeConfig {
  constructor(readonly requestTimeoutMs = API_REQUEST_TIMEOUT_MS) {
    super()
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context)
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(this.requestTimeoutMs))
  }
}

export function loadKubeConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env, requestTimeoutMs?: number): KubeConfig {
  const kc = new TimeoutKubeConfig(requestTimeoutMs)
  const fromEnv = env.KUBECONFIG?.split(':').find((f) => f && existsSync(f))
  const defaultFile = join(env.HOME ?? homedir(), '.kube', 'config')
  const path = file ?? fromEnv ?? (existsSync(defaultFile) ? defaultFile : undefined)
  try {
    if (path) kc.loadFromFile(path)
    else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster()
    else throw new Error('no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running in a cluster')
  } catch (err) {
    throw new HookwiseError(
      'HW_KUBECONFIG',
      `cannot load Kubernetes configuration${path ? ` from ${path}` : ''}: ${(err as Error).message}`,
      {
        hint: 'pass --kubeconfig FILE, set KUBECONFIG, or run hookwise in a pod with a service account',
      },
    )
  }
  if (!kc.getCurrentCluster()) {
    throw new HookwiseError('HW_KUBECONFIG', `the Kubernetes configuration${path ? ` in ${path}` : ''} has no current cluster`, {
      hint: 'set current-context (kubectl config use-context NAME) or pass another --kubeconfig',
    })
  }
  return kc
}
