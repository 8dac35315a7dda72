// Loopback ports for tests that start servers of their own (git daemon): a free port, and whether
// something accepts connections on one.
import { connect, createServer, type AddressInfo } from 'node:net'

/** A port nothing listens on right now (127.0.0.1). */
export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })

/** Whether a connection to 127.0.0.1:port is accepted. */
export const accepting = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = connect(port, '127.0.0.1')
    c.once('connect', () => {
      c.destroy()
      resolve(true)
    })
    c.once('error', () => resolve(false))
  })
