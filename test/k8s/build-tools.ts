// `npm run k8s:tools`: builds (or finds cached) kube-apiserver, kubectl, etcd and helm and prints
// where they are.
//
// `--for-tests` is the `pretest` mode: where the Kubernetes tests will skip (no Go, or
// HOOKWISE_K8S=0) it prints the one-line reason and succeeds; in CI a missing Go is an error.
// Building here, before tap starts, keeps a long first build out of the per-file test timeout and
// away from the other test files running in parallel. `--for-tests` also builds the SSH git server
// of test/git-ssh.test.ts (test/helpers/git-sshd.ts), whatever HOOKWISE_K8S says, and the wandb SDK
// virtualenv whose automation dumps test/import-wandb.test.ts reads (test/tools/wandb-sdk.ts).

import { gitSshdToolSet } from '../helpers/git-sshd.js'
import { buildToolSet, findGo } from '../tools/go-build.js'
import { ensureWandbSdk, pythonMissing } from '../tools/wandb-sdk.js'
import { ensureTools, harnessConfig, harnessStatus } from './tools.js'

const forTests = process.argv.includes('--for-tests')
const cfg = harnessConfig()
const log = (line: string) => console.error(line)

if (forTests) {
  const sshd = await gitSshdToolSet(cfg)
  const go = await findGo(cfg, sshd)
  if (!go.ok && !cfg.ci) log(`git-sshd: not built, the git-over-ssh tests will be skipped: ${go.reason}`)
  else {
    try {
      await buildToolSet(cfg, sshd, log)
      log(`git-sshd: ${sshd.dir}`)
    } catch (err) {
      log((err as Error).message)
      process.exit(1)
    }
  }
  const noPython = pythonMissing()
  if (noPython && !cfg.ci) log(`wandb-sdk: not installed, the wandb import tests will be skipped: ${noPython}`)
  else {
    try {
      log(`wandb-sdk: ${(await ensureWandbSdk(cfg, log)).dumps}`)
    } catch (err) {
      log((err as Error).message)
      process.exit(1)
    }
  }
}

const status = await harnessStatus(cfg)
if (!status.run) {
  if (forTests && !cfg.ci) {
    log(`k8s tools: not built, the Kubernetes tests will be skipped: ${status.reason}`)
    process.exit(0)
  }
  log(`k8s tools: cannot build: ${status.reason}`)
  process.exit(1)
}

try {
  const tools = await ensureTools(cfg, log)
  if (forTests) {
    log(`k8s tools: ${tools.dir}`)
  } else {
    console.log(
      `k8s tools (Kubernetes ${tools.versions.kubernetes}, etcd ${tools.versions.etcd}, helm ${tools.versions.helm}) in ${tools.dir}/bin:`,
    )
    for (const path of [tools.kubeApiserver, tools.etcd, tools.kubectl, tools.helm]) console.log(`  ${path}`)
    console.log(`Use them with: export PATH="${tools.dir}/bin:$PATH"`)
  }
} catch (err) {
  log((err as Error).message)
  process.exit(1)
}
