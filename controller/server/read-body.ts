import type { IncomingMessage } from 'node:http'
import { BodyTooLargeError } from '../errors.js'

/**
 * Beyond the limit, up to this much more of a body is read and thrown away before the 413 is sent.
 * A server that answers and closes while the client is still uploading makes most clients fail
 * with EPIPE or ECONNRESET instead of reading the answer; a body larger still is cut off at once.
 */
export const DISCARD_BYTES = 16 * 1024 * 1024

/** Reads a request body up to `limit` bytes; rejects with BodyTooLargeError beyond it (after discarding up to DISCARD_BYTES more). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limit + DISCARD_BYTES) {
      reject(new BodyTooLargeError(limit))
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) {
        chunks.push(chunk)
        return
      }
      chunks.length = 0
      if (size > limit + DISCARD_BYTES) {
        req.removeAllListeners('data')
        req.pause()
        reject(new BodyTooLargeError(limit))
      }
    })
    req.on('end', () => (size > limit ? reject(new BodyTooLargeError(limit)) : resolve(Buffer.concat(chunks))))
    req.on('error', reject)
  })
}
