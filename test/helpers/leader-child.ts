// A replica for test/leader-election.test.ts to kill with SIGKILL: acquires the Lease, prints one
// JSON line to stdout when it leads, and renews until killed. It exits when its stdin closes, so
// it cannot outlive the test process.
// argv: kubeconfig namespace name identity leaseDurationMs renewDeadlineMs retryPeriodMs
import { KubeConfig } from '@kubernetes/client-node'
import { LeaderElector } from '../../controller/kubernetes/leader-election.js'
import { createLogger } from '../../controller/log.js'

const [kubeconfig, namespace, name, identity, lease, renew, retry] = process.argv.slice(2)
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(kubeconfig!)
const elector = new LeaderElector({
  kubeConfig,
  namespace: namespace!,
  name: name!,
  identity: identity!,
  leaseDurationMs: Number(lease),
  renewDeadlineMs: Number(renew),
  retryPeriodMs: Number(retry),
  log: createLogger({ destination: process.stderr }),
})
elector.onLost(() => process.exit(3))
process.stdin.on('end', () => process.exit(0)).resume()
await elector.acquire()
process.stdout.write(`${JSON.stringify({ leader: identity })}\n`)
