// A sending thread for test/threaded-sender.test.ts that gets ready and then throws on its first
// batch: a thread that dies after taking requests (its 'error' can overtake its 'ready'). Plain
// JavaScript, so it starts as fast as the compiled thread does.
import { parentPort } from 'node:worker_threads'

parentPort.on('message', () => {
  throw new Error('boom in the sending thread')
})
parentPort.postMessage('ready')
