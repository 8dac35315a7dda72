// `npm run k8s:up`: a throwaway control plane for people. Builds the tools if needed, starts etcd
// and kube-apiserver, prints how to point kubectl and helm at them, and stays up until Ctrl-C
// (or SIGTERM), then stops both and removes every file it created.

import { startControlPlane } from './control-plane.js'
import { ensureTools, harnessConfig, harnessStatus } from './tools.js'

const cfg = harnessConfig()
const status = await harnessStatus(cfg)
if (!status.run) {
  console.error(`k8s:up: cannot start a control plane: ${status.reason}`)
  process.exit(1)
}

const log = (line: string) => console.error(line)
const tools = await ensureTools(cfg, log)
const cluster = await startControlPlane(tools, { log }).catch((err: Error) => {
  console.error(`k8s:up: ${err.message}`)
  process.exit(1)
})

let stopping = false
const shutdown = (signal: string) => {
  if (stopping) return
  stopping = true
  console.error(`\nk8s:up: ${signal}: stopping kube-apiserver and etcd`)
  cluster.stop().then(
    () => {
      console.error(`k8s:up: stopped; removed ${cluster.dir}`)
      process.exit(0)
    },
    (err: Error) => {
      console.error(`k8s:up: teardown failed: ${err.message}`)
      process.exit(1)
    },
  )
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => shutdown(signal))

console.log(`# Kubernetes ${tools.versions.kubernetes} control plane at ${cluster.server} (etcd ${tools.versions.etcd}); Ctrl-C stops it.`)
console.log(`export KUBECONFIG=${cluster.kubeconfig}`)
console.log(`export PATH="${tools.dir}/bin:$PATH"  # kubectl ${tools.versions.kubernetes}, helm ${tools.versions.helm}`)
console.log(`# then: kubectl apply -f crds/ && kubectl apply -f examples/secrets/ -f examples/ && kubectl get automations`)
