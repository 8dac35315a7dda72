// Listening and closing for hookwise's HTTP servers (the API and a standby's health server).
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Resolves with the bound address; rejects with the listen error (port in use, address not here). */
export function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve(server.address() as AddressInfo)
    })
  })
}

/** Stops accepting and drops open (keep-alive) connections. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
