// The container image `npm run image` builds (scripts/image/), built for real (cached by its inputs'
// hash, see test/helpers/image.ts) and run with podman: what it is (labels, user, entry point, no
// shell, its SBOM), `--version`, `run --dir` on a mounted folder delivering a signed webhook to a
// loopback receiver with a read-only root filesystem, kill -9 and a restart on the same state
// volume with nothing lost, and the README's install: `podman push` to a registry (a real one on
// loopback), the chart installed by that digest, and `run --kubernetes` of the pulled reference
// against the test control plane with the chart's ServiceAccount token, its Deployment's
// arguments, user 65532 and a read-only root filesystem.
import { chownSync, chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { request } from 'undici'
import { parseAllDocuments } from 'yaml'
import { VERSION } from '../controller/version.js'
import { debianListPath, provenance, sbomPath } from '../scripts/image/build.js'
import { useImage } from './helpers/image.js'
import { condition, kube } from './helpers/kube.js'
import { freePort } from './helpers/ports.js'
import { useRegistry } from './helpers/registry.js'
import { startReceiver } from './helpers/receiver.js'
import { until } from './helpers/until.js'
import { useControlPlane } from './k8s/fixture.js'

const root = join(import.meta.dirname, '..')
const image = await useImage(t)

/** A folder the image's user (65532) owns, for a state volume. */
const stateDir = (dir: string): string => {
  const state = join(dir, 'state')
  mkdirSync(state)
  chownSync(state, 65532, 65532)
  return state
}
/** What the pod's securityContext sets: a read-only root filesystem, no capabilities, no privilege escalation. */
const hardened = ['--read-only', '--cap-drop=ALL', '--security-opt=no-new-privileges']
const event = (id: string) => ({
  id,
  type: 'LINK_ARTIFACT',
  entity: 'acme',
  project: 'p',
  registry: 'model',
  collection: 'churn',
  artifact: { id: 'QQ==', name: 'churn', version: 'v7' },
})
const post = async (url: string, body: unknown, token?: string) => {
  const res = await request(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  return { status: res.statusCode, body: (await res.body.json()) as any }
}
const webhookAndAutomation = (url: string, extra = '') => `apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ci}
spec:
  url: ${url}
${extra}---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: on-link}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: ci, payloadTemplate: '{"event": "\${event_id}", "version": "\${artifact_version_string}"}'}
`

if (image) {
  const inImage = async (script: string): Promise<string> => {
    const r = await image.podman(['run', '--rm', '--entrypoint', '/nodejs/bin/node', image.image.id, '-e', script])
    if (r.code !== 0) throw new Error(r.stderr)
    return r.stdout
  }

  t.test('the image: OCI labels, user 65532, the entry point, no shell, and its SBOM (npm and Debian)', async (t) => {
    const [inspect] = JSON.parse((await image.podman(['image', 'inspect', image.image.id])).stdout) as Array<{
      Config: { User: string; Entrypoint: string[]; Cmd: string[]; WorkingDir: string; Labels: Record<string, string> }
      Size: number
    }>
    const p = await provenance()
    t.match(inspect!.Config, {
      User: '65532:65532',
      Entrypoint: ['/nodejs/bin/node', '/app/dist/controller/cli/main.js'],
      Cmd: ['--help'],
      WorkingDir: '/app',
      Labels: {
        'org.opencontainers.image.version': VERSION,
        'org.opencontainers.image.revision': p.revision,
        'org.opencontainers.image.source': p.source,
      },
    })
    t.match(p.revision, /^[0-9a-f]{40}(-dirty)?$/)
    t.comment(`image size ${(inspect!.Size / 1e6).toFixed(1)} MB, OCI archive ${(image.image.archiveSize / 1e6).toFixed(1)} MB`)

    const shell = await image.podman(['run', '--rm', '--entrypoint', '/bin/sh', image.image.id, '-c', 'true'])
    t.equal(shell.code, 127, 'no /bin/sh in the image')
    t.match(shell.stderr, /\/bin\/sh: no such file or directory/)

    const sbom = JSON.parse(readFileSync(sbomPath(), 'utf8')) as { bomFormat: string; components: Array<{ name: string; version: string }> }
    t.equal(sbom.bomFormat, 'CycloneDX')
    t.same(
      JSON.parse(await inImage("process.stdout.write(require('fs').readFileSync('/app/sbom.cdx.json'))")),
      sbom,
      'the image holds the same SBOM',
    )
    const names = sbom.components.map((c) => c.name)
    t.ok(names.includes('better-sqlite3') && names.includes('undici') && names.includes('ajv'), 'production dependencies are listed')
    t.notOk(names.includes('tsx') || names.includes('typescript') || names.includes('tap'), 'no devDependency is listed')
    // Every production package of the lock file, by name and version.
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; version: string }>
    }
    const listed = new Set(sbom.components.map((c) => `${c.name}@${c.version}`))
    const prod = Object.entries(lock.packages).filter(([path, p]) => path && !p.dev)
    t.same(
      prod.filter(([path, p]) => !listed.has(`${path.split('node_modules/').pop()}@${p.version}`)).map(([path]) => path),
      [],
      'every production package of package-lock.json is in the SBOM',
    )
    t.comment(`SBOM: ${sbom.components.length} npm components`)

    const debian = readFileSync(debianListPath(), 'utf8').trim().split('\n')
    t.same(
      debian.map((l) => l.split(' ')[0]),
      ['base-files', 'gcc-12-base', 'libc6', 'libgcc-s1', 'libstdc++6'],
    )
    for (const line of debian) t.match(line, /^\S+ \S+ amd64$/)
    t.same(
      (await inImage("console.log(require('fs').readdirSync('/var/lib/dpkg/status.d').sort().join(' '))")).trim(),
      debian.map((l) => l.split(' ')[0]).join(' '),
      'the image records the same Debian packages in /var/lib/dpkg/status.d',
    )
  })

  t.test('podman run IMAGE --version, with a read-only root filesystem', async (t) => {
    const r = await image.podman(['run', '--rm', ...hardened, image.image.id, '--version'])
    t.equal(r.code, 0, r.stderr)
    t.equal(r.stdout, `${VERSION}\n`)
  })

  t.test(
    'run --dir: a mounted manifests folder, a signed webhook to a loopback receiver; kill -9, then a restart on the same state volume loses nothing',
    async (t) => {
      const receiver = await startReceiver(t)
      receiver.fallback = 503
      const secret = `whsec_${Buffer.from('hookwise-image-test-signing-key!').toString('base64')}`
      const dir = t.testdir({
        manifests: {
          'hooks.yaml': webhookAndAutomation(
            `${receiver.url}/hook`,
            `  secrets:\n    - name: SIGNING_KEY\n      secretKeyRef: {name: ci, key: signing-key}\n  signing: {secret: SIGNING_KEY, scheme: standard-webhooks}\n`,
          ),
        },
        secrets: { 'ci.yaml': `apiVersion: v1\nkind: Secret\nmetadata: {name: ci}\nstringData: {signing-key: ${secret}}\n` },
      })
      const state = stateDir(dir)
      const start = async () => {
        const port = await freePort()
        const c = image.run(
          t,
          [
            ...hardened,
            '--network=host',
            '-v',
            `${dir}/manifests:/manifests:ro`,
            '-v',
            `${dir}/secrets:/secrets:ro`,
            '-v',
            `${state}:/var/lib/hookwise`,
          ],
          [
            'run',
            '--dir=/manifests',
            '--secrets=/secrets',
            '--state=/var/lib/hookwise',
            `--listen=127.0.0.1:${port}`,
            '--allow-insecure-http',
            '--egress-allow=127.0.0.1/32',
          ],
        )
        return { c, url: await c.url() }
      }
      const first = await start()
      const ids: string[] = []
      for (const n of [1, 2, 3]) {
        const res = await post(first.url, event(`image-${n}`))
        t.equal(res.status, 202)
        ids.push(res.body.events[0].deliveries[0].id)
      }
      const got = await receiver.waitFor(3, 30_000)
      const verifier = new StandardWebhook(secret)
      for (const r of got) {
        t.doesNotThrow(
          () => verifier.verify(r.body, r.headers as Record<string, string>),
          'the signature verifies with the standardwebhooks package',
        )
      }
      t.same(got.map((r) => JSON.parse(r.body).event).sort(), ['image-1', 'image-2', 'image-3'])
      // Each first attempt (503) is recorded, so each delivery waits for its retry (~5 s) in the state.
      const attempts = async (url: string, id: string) =>
        (await (await request(`${url}/v1/deliveries/${id}`)).body.json()) as {
          status: string
          attempts: Array<{ statusCode: number | null }>
        }
      await until('the first attempts recorded', async () => {
        for (const id of ids) if ((await attempts(first.url, id)).attempts.length < 1) return undefined
        return true
      })
      t.same((await first.c.signal('SIGKILL')).code, 137, 'podman run reports the container killed (128 + 9)')

      receiver.fallback = 200
      const second = await start()
      await receiver.waitFor(6, 30_000)
      const retried = receiver.received.slice(3)
      t.same(
        new Set(retried.map((r) => r.headers['webhook-id'])),
        new Set(got.map((r) => r.headers['webhook-id'])),
        'after the restart each delivery arrived again with its webhook-id',
      )
      for (const r of retried) t.doesNotThrow(() => verifier.verify(r.body, r.headers as Record<string, string>))
      for (const id of ids) {
        const row = await until(`delivery ${id} succeeded`, async () => {
          const row = await attempts(second.url, id)
          return row.status === 'succeeded' ? row : undefined
        })
        t.same(
          row.attempts.map((a) => a.statusCode),
          [503, 200],
          `${id}: the attempt before the kill and the one after`,
        )
      }
      t.equal((await second.c.signal('SIGTERM')).code, 0, 'SIGTERM stops it cleanly')
      t.notMatch(second.c.lines.join('\n'), /"level":(50|60)/, 'no error lines')
    },
  )

  const cluster = await useControlPlane(t)
  const registry = cluster && (await useRegistry(t))
  if (cluster && registry) {
    t.test(
      "run --kubernetes: the chart's Deployment arguments, its ServiceAccount token, user 65532, read-only root filesystem",
      async (t) => {
        const k = kube(cluster)
        const receiver = await startReceiver(t)
        // The README's install: push to a registry, install the chart by the pushed digest, and the
        // node pulls that reference; the Deployment it renders is what runs below.
        const { address } = await registry.serve(t)
        const repository = `${address}/team/hookwise`
        const dir = t.testdir({})
        const push = await image.podman([
          'push',
          '--tls-verify=false',
          '--digestfile',
          join(dir, 'digest'),
          image.image.id,
          `${repository}:${VERSION}`,
        ])
        t.equal(push.code, 0, push.stderr)
        const digest = readFileSync(join(dir, 'digest'), 'utf8').trim()
        t.match(digest, /^sha256:[0-9a-f]{64}$/)
        const ns = 'hookwise-system'
        const install = await cluster.helm([
          'install',
          'hw',
          join(root, 'charts', 'hookwise'),
          '-n',
          ns,
          '--create-namespace',
          '--set',
          `image.repository=${repository},image.digest=${digest}`,
          '--set',
          'egress.allowInsecureHttp=true,egress.allowCIDRs={127.0.0.1/32}',
        ])
        t.equal(install.code, 0, install.stderr)
        const manifest = parseAllDocuments((await cluster.helm(['get', 'manifest', 'hw', '-n', ns])).stdout).map((d) => d.toJS())
        const pod = manifest.find((o) => o?.kind === 'Deployment').spec.template.spec
        const container = pod.containers[0]
        t.equal(container.image, `${repository}@${digest}`)
        const pull = await image.podman(['pull', '--tls-verify=false', container.image])
        t.equal(pull.code, 0, pull.stderr)
        t.equal(
          (await image.podman(['image', 'inspect', '--format', '{{.Id}}', container.image])).stdout.trim(),
          image.image.id,
          'the registry serves the image that was built',
        )
        t.match(pod.securityContext, { runAsUser: 65532, runAsGroup: 65532 })
        t.match(container.securityContext, {
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        })

        // What the kubelet mounts: the ServiceAccount's token (TokenRequest), the cluster's CA and
        // the namespace, the intake Secret (mode 0440, group 65532: fsGroup), and the state volume.
        const sa = join(dir, 'serviceaccount')
        mkdirSync(sa)
        writeFileSync(join(sa, 'token'), (await k.kubectl(['create', 'token', pod.serviceAccountName, '-n', ns, '--duration=1h'])).trim())
        copyFileSync(join(cluster.dir, 'pki', 'ca.crt'), join(sa, 'ca.crt'))
        writeFileSync(join(sa, 'namespace'), ns)
        for (const f of ['token', 'ca.crt', 'namespace']) chmodSync(join(sa, f), 0o644) // the projected volume's default mode
        const intake = join(dir, 'intake')
        mkdirSync(intake)
        const token = Buffer.from(
          JSON.parse(await k.kubectl(['get', 'secret', 'hw-hookwise-intake', '-n', ns, '-o', 'json'])).data.token,
          'base64',
        ).toString()
        writeFileSync(join(intake, 'token'), token)
        chownSync(join(intake, 'token'), 0, 65532)
        chmodSync(join(intake, 'token'), 0o440)
        const state = stateDir(dir)
        const mounts: Record<string, string> = { state, 'intake-token': intake }
        const volumeArgs = (container.volumeMounts as Array<{ name: string; mountPath: string; readOnly?: boolean }>).flatMap((m) =>
          m.name === 'tmp' ? ['--tmpfs', `${m.mountPath}:size=64m`] : ['-v', `${mounts[m.name]}:${m.mountPath}${m.readOnly ? ':ro' : ''}`],
        )
        const apiserver = new URL(cluster.server)
        // The one change: with the host's network the container's 0.0.0.0:8080 would be the
        // machine's; it listens on a free loopback port instead.
        const port = await freePort()
        const args = (container.args as string[]).map((a) => a.replace(/^--listen=.*/, `--listen=127.0.0.1:${port}`))
        t.equal(args.filter((a, i) => a !== container.args[i]).length, 1, 'every other argument is the Deployment’s')
        const c = image.run(
          t,
          [
            ...hardened,
            '--network=host',
            '--pull=never',
            `--user=${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`,
            '--read-only-tmpfs=false',
            ...volumeArgs,
            '-v',
            `${sa}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
            '-e',
            `KUBERNETES_SERVICE_HOST=${apiserver.hostname}`,
            '-e',
            `KUBERNETES_SERVICE_PORT=${apiserver.port}`,
            '-e',
            'POD_NAME=hw-hookwise-7d9f-abcde',
            '-e',
            `POD_NAMESPACE=${ns}`,
          ],
          args,
          container.image,
        )
        const url = await c.url(60_000)
        await until(
          '/readyz: this replica leads and has loaded the cluster',
          async () => (await request(`${url}/readyz`)).statusCode === 200,
          60_000,
        )

        await k.createNamespace('team')
        await k.apply(
          `apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: tok-1}\n---\n${webhookAndAutomation(
            `${receiver.url}/hook`,
            '  accessToken: {secretKeyRef: {name: creds, key: token}}\n',
          )}`,
          'team',
        )
        for (const [resource, name] of [
          ['webhook', 'ci'],
          ['automation', 'on-link'],
        ] as const)
          await until(`${resource} ${name} Ready (status written by the container)`, async () => {
            const o = await k.get(resource, 'team', name)
            return condition(o, 'Ready')?.status === 'True' ? o : undefined
          })
        t.equal((await post(url, event('k8s-1'))).status, 401, 'the intake needs the token from the chart’s Secret')
        t.equal((await post(url, event('k8s-1'), token)).status, 202)
        const [got] = await receiver.waitFor(1, 30_000)
        t.equal(got!.body, '{"event": "k8s-1", "version": "acme/p/churn:v7"}')
        t.equal(got!.headers.authorization, 'Bearer tok-1', 'the Secret was read with the ServiceAccount’s permissions')
        const automation = await until('status.lastDelivery', async () => {
          const o = await k.get('automation', 'team', 'on-link')
          return o?.status?.lastDelivery?.outcome === 'Succeeded' ? o : undefined
        })
        t.equal(automation.status.lastDelivery.outcome, 'Succeeded')
        const lease = await k.get('lease', ns, 'hw-hookwise')
        t.match(lease?.spec?.holderIdentity, /^hw-hookwise-7d9f-abcde_[0-9a-f]{8}$/, 'the container holds the chart’s Lease')
        t.equal((await c.signal('SIGTERM')).code, 0)
        t.notMatch(c.lines.join('\n'), /"level":(50|60)/, 'no error lines')
      },
    )
  }
}
