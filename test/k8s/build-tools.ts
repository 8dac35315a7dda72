// `npm run k8s:tools`: builds (or finds cached) kube-apiserver, kubectl, etcd and helm and prints
// where they are.
//
// `--for-tests` is the `pretest` mode: where the Kubernetes tests will skip (no Go, or
// HOOKWISE_K8S=0) it prints the one-line reason and succeeds; in CI a missing Go is an error.
// Building here, before tap starts, keeps a long first build out of the per-file test timeout and
// away from the other test files running in parallel. `--for-tests` also builds the SSH git server
// of test/git-ssh.test.ts (test/helpers/git-sshd.ts) and the OCI registry of test/image.test.ts
// (test/helpers/registry.ts) and promtool of test/helm-monitoring.test.ts (test/helpers/promtool.ts),
// whatever HOOKWISE_K8S says, and the container image of
// test/image.test.ts (scripts/image/build.ts, installing its Debian packages when missing), and
// installs the MLflow server of the event-source tests from PyPI (test/helpers/mlflow.ts); after the
// Kubernetes tools it builds Flux's notification-controller, the peer of `npm run bench:peers` that
// test/bench-peers.test.ts runs (test/tools/notification-controller.ts). It also makes the wandb SDK
// virtualenv whose automation dumps test/import-wandb.test.ts reads (test/tools/wandb-sdk.ts), and
// installs Debian's chromium for the dashboard's browser test (test/tools/chromium.ts), and
// Debian's PostgreSQL server for the PostgreSQL store's tests when missing (test/helpers/postgres.ts).

import { ensureImage } from '../../scripts/image/build.js'
import { gitSshdToolSet } from '../helpers/git-sshd.js'
import { imageSkipReason } from '../helpers/image.js'
import { registryToolSet } from '../helpers/registry.js'
import { promtoolToolSet } from '../helpers/promtool.js'
import { mlflowVenv } from '../helpers/mlflow.js'
import { ensurePostgresBinaries, postgresSkipReason } from '../helpers/postgres.js'
import { findPython, installVenv } from '../tools/python-venv.js'
import { buildToolSet, findGo } from '../tools/go-build.js'
import { ensureNotificationController, peerUnavailable } from '../tools/notification-controller.js'
import { ensureWandbSdk } from '../tools/wandb-sdk.js'
import { ensureChromium } from '../tools/chromium.js'
import { ensureTools, harnessConfig, harnessStatus } from './tools.js'

const forTests = process.argv.includes('--for-tests')
const cfg = harnessConfig()
const log = (line: string) => console.error(line)

if (forTests) {
  for (const set of [await gitSshdToolSet(cfg), await registryToolSet(cfg), await promtoolToolSet(cfg)]) {
    const go = await findGo(cfg, set)
    if (!go.ok && !cfg.ci) log(`${set.label}: not built, the tests needing it will be skipped: ${go.reason}`)
    else {
      try {
        await buildToolSet(cfg, set, log)
        log(`${set.label}: ${set.dir}`)
      } catch (err) {
        log((err as Error).message)
        process.exit(1)
      }
    }
  }
}

if (forTests) {
  const missing = ensureChromium(log)
  if (missing && !cfg.ci) log(`chromium: not installed, test/dashboard.test.ts will be skipped: ${missing}`)
  else if (missing) {
    log(`chromium: cannot install: ${missing}`)
    process.exit(1)
  } else log('chromium: /usr/bin/chromium')
  try {
    log(`postgres: ${ensurePostgresBinaries(log)}`)
  } catch (err) {
    if (cfg.ci) {
      log(`postgres: cannot install: ${(err as Error).message}`)
      process.exit(1)
    }
    log(`postgres: not installed, the PostgreSQL tests will be skipped: ${postgresSkipReason() ?? (err as Error).message}`)
  }
}

if (forTests) {
  const skip = imageSkipReason()
  if (skip && !cfg.ci) log(`image: not built, the image tests will be skipped: ${skip}`)
  else if (skip) {
    log(`image: cannot build: ${skip}`)
    process.exit(1)
  } else {
    try {
      const image = await ensureImage(log)
      log(`image: ${image.tag} ${image.id.slice(0, 12)} (${image.cached ? 'cached' : `built in ${image.seconds} s`})`)
    } catch (err) {
      log((err as Error).message)
      process.exit(1)
    }
  }
  const python = findPython()
  if (!python.ok && !cfg.ci) log(`mlflow: not installed, the MLflow tests will be skipped: ${python.reason}`)
  else {
    try {
      if (!python.ok) throw new Error(`mlflow: cannot install: ${python.reason}`)
      const venv = await mlflowVenv(cfg, python.version)
      await installVenv(cfg, venv, python.python, log)
      log(`mlflow: ${venv.dir}`)
    } catch (err) {
      log((err as Error).message)
      process.exit(1)
    }
  }
  if (!python.ok && !cfg.ci) log(`wandb-sdk: not installed, the wandb import tests will be skipped: ${python.reason}`)
  else {
    try {
      if (!python.ok) throw new Error(`wandb-sdk: cannot install: ${python.reason}`)
      log(`wandb-sdk: ${(await ensureWandbSdk(cfg, python, log)).dumps}`)
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
    const why = await peerUnavailable(cfg)
    if (why && !cfg.ci) log(`notification-controller: not built, test/bench-peers.test.ts will be skipped: ${why}`)
    else log(`notification-controller: ${(await ensureNotificationController(cfg, log)).binary}`)
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
