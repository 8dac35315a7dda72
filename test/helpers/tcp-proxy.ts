// A TCP proxy on 127.0.0.1 to a local port, for cutting a process off from the API server:
// cut() drops every connection and refuses new ones (a crash or restart of the server);
// blackhole() keeps connections open but carries no more bytes and accepts new ones that go
// nowhere (a network partition: requests hang instead of failing). restore() forwards again.
import { readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import type { ControlPlane } from '../k8s/fixture.js'

export interface TcpProxy {
  port: number
  cut(): void
  blackhole(): void
  restore(): void
}

export async function tcpProxy(t: { teardown(fn: () => unknown): void }, port: number | string): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let mode: 'open' | 'cut' | 'blackhole' = 'open'
  const track = (s: Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  }
  const server = createServer((client) => {
    if (mode === 'cut') return client.destroy()
    track(client)
    if (mode === 'blackhole') return client.pause()
    const upstream = connect(Number(port), '127.0.0.1')
    track(upstream)
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      mode = 'cut'
      for (const s of sockets) s.destroy()
    },
    blackhole: () => {
      mode = 'blackhole'
      for (const s of sockets) {
        s.unpipe()
        s.pause()
      }
    },
    restore: () => {
      mode = 'open'
    },
  }
}

/** A copy of the control plane's kubeconfig that reaches the API server through a proxy of it; returns its path. */
export async function kubeconfigThroughProxy(
  t: { teardown(fn: () => unknown): void },
  cluster: ControlPlane,
  name: string,
): Promise<{ proxy: TcpProxy; kubeconfig: string }> {
  const proxy = await tcpProxy(t, new URL(cluster.server).port)
  const config = parse(readFileSync(cluster.kubeconfig, 'utf8')) as { clusters: Array<{ cluster: { server: string } }> }
  config.clusters[0]!.cluster.server = `https://127.0.0.1:${proxy.port}`
  const kubeconfig = join(cluster.dir, `kubeconfig-through-proxy-${name}`)
  writeFileSync(kubeconfig, stringify(config))
  return { proxy, kubeconfig }
}
