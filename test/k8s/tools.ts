// The Kubernetes tools the harness runs: kube-apiserver, kubectl, etcd, helm and a small
// certificate generator. They are compiled with the machine's Go from the wrapper modules in
// test/k8s/tools/ and cached by test/tools/go-build.ts, one folder per set of versions:
//
//   ~/.cache/hookwise-k8s/k8s-v1.37.2_etcd-v3.6.16_helm-v3.22.0_<hash>/bin/
//
// The hash covers every file of the wrapper modules and the build flags, so editing a go.mod
// (a version bump) leads to a new folder and a rebuild; anything else reuses the folder.

import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildToolSet, cacheFolder, findGo, isBuilt, type GoToolSet, type HarnessConfig } from '../tools/go-build.js'

export { formatDuration, harnessConfig, isAlive, type HarnessConfig } from '../tools/go-build.js'

const toolsSource = join(dirname(fileURLToPath(import.meta.url)), 'tools')

export interface ToolVersions {
  kubernetes: string
  etcd: string
  helm: string
}

/** Paths of the built binaries. */
export interface Tools {
  dir: string
  versions: ToolVersions
  kubeApiserver: string
  kubectl: string
  etcd: string
  helm: string
  testcerts: string
}

const binaries = ['kube-apiserver', 'kubectl', 'testcerts', 'etcd', 'helm'] as const

/** The tool set the wrapper modules describe, with its versions and cache folder (nothing is built). */
export async function toolSet(cfg: HarnessConfig): Promise<GoToolSet & { versions: ToolVersions }> {
  const kubeMod = await readFile(join(toolsSource, 'kube', 'go.mod'), 'utf8')
  const etcdMod = await readFile(join(toolsSource, 'etcd', 'go.mod'), 'utf8')
  const helmMod = await readFile(join(toolsSource, 'helm', 'go.mod'), 'utf8')
  const versions: ToolVersions = {
    kubernetes: requiredVersion(kubeMod, 'k8s.io/kubernetes'),
    etcd: requiredVersion(etcdMod, 'go.etcd.io/etcd/server/v3'),
    helm: requiredVersion(helmMod, 'helm.sh/helm/v3'),
  }
  const builds = (out: string) => buildSteps(versions, helmMod, out)
  const name = `k8s-${versions.kubernetes}_etcd-${versions.etcd}_helm-${versions.helm}`
  return {
    label: 'k8s tools',
    purpose: `kube-apiserver and etcd (Kubernetes ${versions.kubernetes})`,
    source: toolsSource,
    goMod: join(toolsSource, 'kube', 'go.mod'),
    dir: await cacheFolder(cfg, name, toolsSource, builds('')),
    binaries,
    builds,
    manifest: { versions },
    versions,
  }
}

function requiredVersion(goMod: string, module: string): string {
  const match = new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll('.', '\\.')}\\s+(v\\S+)`, 'm').exec(goMod)
  if (!match?.[1]) throw new Error(`test/k8s/tools: no "require ${module}" in go.mod`)
  return match[1]
}

/** The Go build invocations; `out` is the folder the binaries go to. */
function buildSteps(versions: ToolVersions, helmMod: string, out: string) {
  const [major, minor] = versions.kubernetes.replace(/^v/, '').split('.')
  // The same version stamps the Kubernetes and Helm makefiles set, so `kubectl version`,
  // the apiserver's /version and `helm version` report real versions.
  const kubeStamp = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) => [
    `-X ${pkg}.gitVersion=${versions.kubernetes}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
  ])
  const helmK8s = requiredVersion(helmMod, 'k8s.io/client-go').replace(/^v0\./, '').split('.')[0]
  const helmStamp = [
    `-X helm.sh/helm/v3/internal/version.version=${versions.helm}`,
    ...['pkg/lint/rules', 'pkg/chartutil'].flatMap((pkg) => [
      `-X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1`,
      `-X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${helmK8s}`,
    ]),
  ]
  return [
    {
      what: `kube-apiserver and kubectl (k8s.io/kubernetes ${versions.kubernetes})`,
      module: 'kube',
      args: ['-ldflags', ['-s -w', ...kubeStamp].join(' '), '-o', `${out}/`, './cmd/kube-apiserver', './cmd/kubectl', './cmd/testcerts'],
    },
    {
      what: `etcd (go.etcd.io/etcd/server/v3 ${versions.etcd})`,
      module: 'etcd',
      args: ['-ldflags', '-s -w', '-o', join(out, 'etcd'), '.'],
    },
    {
      what: `helm (helm.sh/helm/v3 ${versions.helm})`,
      module: 'helm',
      args: ['-ldflags', ['-s -w', ...helmStamp].join(' '), '-o', join(out, 'helm'), 'helm.sh/helm/v3/cmd/helm'],
    },
  ]
}

/** `run`: build or reuse the tools; `skip`: one-line reason the Kubernetes tests cannot run here. */
export async function harnessStatus(cfg: HarnessConfig): Promise<{ run: true } | { run: false; reason: string }> {
  if (cfg.optedOut && !cfg.ci) return { run: false, reason: 'HOOKWISE_K8S=0 is set' }
  const go = await findGo(cfg, await toolSet(cfg))
  return go.ok ? { run: true } : { run: false, reason: go.reason }
}

/** The cached tools, or undefined when they have not been built yet. */
export async function cachedTools(cfg: HarnessConfig): Promise<Tools | undefined> {
  const set = await toolSet(cfg)
  return isBuilt(set) ? toolsIn(set.dir, set.versions) : undefined
}

function toolsIn(dir: string, versions: ToolVersions): Tools {
  const bin = (name: (typeof binaries)[number]) => join(dir, 'bin', name)
  return {
    dir,
    versions,
    kubeApiserver: bin('kube-apiserver'),
    kubectl: bin('kubectl'),
    etcd: bin('etcd'),
    helm: bin('helm'),
    testcerts: bin('testcerts'),
  }
}

/** Returns the cached tools, building them first when missing (see buildToolSet). */
export async function ensureTools(cfg: HarnessConfig, log: (line: string) => void): Promise<Tools> {
  const set = await toolSet(cfg)
  await buildToolSet(cfg, set, log)
  return toolsIn(set.dir, set.versions)
}
