// A real HTTP server on 127.0.0.1:0 for delivery tests; it stops when the test ends.
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface Received {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: string
}

export interface TestServer {
  port: number
  url: (path?: string) => string
  received: Received[]
  /** Count of TCP connections accepted. */
  connections: () => number
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

/** Starts a server whose handler answers each request after its body has arrived. */
export async function startServer(t: { teardown: (fn: () => unknown) => void }, handler: Handler): Promise<TestServer> {
  const received: Received[] = []
  const sockets = new Set<Socket>()
  let connections = 0
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      handler(req, res, body)
    })
  })
  server.on('connection', (socket: Socket) => {
    connections++
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  )
  return { port, url: (path = '/') => `http://127.0.0.1:${port}${path}`, received, connections: () => connections }
}
