// The worker thread behind ThreadedSender: an UndiciSender of its own, fed batches of requests
// over the thread's message port. Results go back in batches too, one message per turn of this
// thread's event loop however many responses arrived in it. 'close' closes the sender (requests in
// flight are answered first), sends the last results and ends the thread.
import { parentPort, workerData } from 'node:worker_threads'
import type { ListenAddress } from './egress.js'
import type { SendResult } from './send-result.js'
import { UndiciSender, type UndiciSenderOptions } from './sender.js'
import type { ResultBatch, SendBatch } from './threaded-sender.js'

const port = parentPort!
const sender = new UndiciSender(workerData as UndiciSenderOptions)
let results: ResultBatch = []
let scheduled = false

function flush(): void {
  scheduled = false
  if (results.length === 0) return
  const batch = results
  results = []
  port.postMessage(batch)
}

function answer(id: number, result: SendResult): void {
  results.push([id, result])
  if (scheduled) return
  scheduled = true
  setImmediate(flush)
}

port.on('message', (message: SendBatch | 'close' | { self: ListenAddress[] }) => {
  if (!Array.isArray(message) && typeof message === 'object') {
    sender.refuseSelf(message.self)
    return
  }
  if (message === 'close') {
    void sender.close().finally(() => {
      // The last sends' results are queued as microtasks of the responses; let them land first.
      setImmediate(() => {
        flush()
        port.close()
      })
    })
    return
  }
  for (const [id, request, timeoutMs] of message) void sender.send(request, { timeoutMs }).then((result) => answer(id, result))
})
// Requests posted before this point waited in the port; from here on none can be lost silently.
port.postMessage('ready')
