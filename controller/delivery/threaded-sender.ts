// A Sender whose HTTP work runs on a worker thread (sender-thread.ts): undici, the egress policy's
// connector, the socket writes and the reading of responses. `hookwise run` uses it so a busy
// controller spreads over two cores: the main thread takes events, keeps the outbox, renders and
// signs; the sending thread talks to receivers. Requests started in the same turn of the event loop
// go to the thread in one message, and the thread answers in batches too.
import type { Worker } from 'node:worker_threads'
import { startModuleThread } from './module-thread.js'
import type { OutgoingRequest } from './request.js'
import type { SendResult, Sender } from './send-result.js'
import type { ListenAddress } from './egress.js'
import { UndiciSender, type UndiciSenderOptions } from './sender.js'

/** Requests for the thread, in one message: [id, request, timeoutMs] each. */
export type SendBatch = Array<[number, OutgoingRequest, number]>
/** Results from the thread, in one message: [id, result] each. */
export type ResultBatch = Array<[number, SendResult]>

/** The options of the thread's UndiciSender; test hooks (functions) cannot cross to a thread. */
export type ThreadedSenderOptions = Omit<UndiciSenderOptions, 'connector'> & {
  /**
   * Told when the sending thread stops unexpectedly (`mainThread` false: its requests in flight are
   * answered as network errors and a new thread starts) or cannot start (`mainThread` true: sending
   * moves to the main thread). The sender copes either way; this is for the log.
   */
  onThreadError?: (err: Error, mainThread: boolean) => void
  /** The thread's entry module; tests point it elsewhere to see a thread that cannot start. */
  threadModule?: URL
}

export class ThreadedSender implements Sender {
  private readonly options: ThreadedSenderOptions
  private worker: Worker | undefined
  /** Set once a thread failed to start: sends then run on this thread, as UndiciSender does. */
  private inThread: UndiciSender | undefined
  /** The thread loaded its module and listens (it said 'ready'). */
  private online = false
  /** Requests handed to the thread and not answered yet. */
  private readonly waiting = new Map<number, { resolve: (result: SendResult) => void; request: OutgoingRequest; timeoutMs: number }>()
  private batch: SendBatch = []
  private nextId = 1
  private closed = false

  constructor(options: ThreadedSenderOptions = {}) {
    this.options = options
    try {
      this.worker = this.startThread()
    } catch (err) {
      this.useMainThread(err as Error)
    }
  }

  refuseSelf(addresses: readonly ListenAddress[]): void {
    // Kept in the options, so a thread started later (or the main-thread fallback) refuses them too.
    this.options.self = [...addresses]
    this.inThread?.refuseSelf(addresses)
    this.worker?.postMessage({ self: this.options.self })
  }

  send(request: OutgoingRequest, options: { timeoutMs: number }): Promise<SendResult> {
    if (this.closed)
      return Promise.resolve({ latencyMs: 0, error: { code: 'NETWORK', message: 'the sender is closed; hookwise is shutting down' } })
    if (this.inThread) return this.inThread.send(request, options)
    return new Promise((resolve) => {
      const id = this.nextId++
      this.waiting.set(id, { resolve, request, timeoutMs: options.timeoutMs })
      if (this.batch.length === 0) queueMicrotask(() => this.flush())
      this.batch.push([id, request, options.timeoutMs])
    })
  }

  private flush(): void {
    const batch = this.batch
    this.batch = []
    // Empty once sending moved to the main thread: useMainThread sends what was batched, and send()
    // no longer batches.
    if (batch.length === 0) return
    let worker: Worker
    try {
      // A thread that stopped is replaced on the next send.
      worker = this.worker ??= this.startThread()
    } catch (err) {
      this.useMainThread(err as Error)
      return
    }
    worker.ref() // requests in flight keep the process alive, as open sockets would
    try {
      worker.postMessage(batch)
    } catch (err) {
      const message = `the request could not be handed to the sending thread: ${(err as Error).message}`
      for (const [id] of batch) this.settle(id, { latencyMs: 0, error: { code: 'NETWORK', message } })
    }
  }

  private settle(id: number, result: SendResult): void {
    const waiting = this.waiting.get(id)
    if (!waiting) return
    this.waiting.delete(id)
    waiting.resolve(result)
    // While closing, the thread stays referenced until it exits: close() waits for that.
    if (this.waiting.size === 0 && !this.closed) this.worker?.unref()
  }

  private startThread(): Worker {
    const worker = startModuleThread('./sender-thread', stripThreadOptions(this.options), this.options.threadModule)
    this.online = false
    worker.unref()
    worker.on('message', (message: ResultBatch | 'ready') => {
      if (message === 'ready') {
        if (this.worker === worker) this.online = true
        return
      }
      for (const [id, result] of message) this.settle(id, result)
    })
    // 'error' comes over another channel than the thread's messages, so it can overtake a 'ready'
    // already sent; by 'exit' every message has been delivered, so the thread is judged then.
    let failure: Error | undefined
    worker.once('error', (err) => {
      failure = err
    })
    worker.once('exit', (code) => this.lost(worker, failure ?? new Error(`the sending thread exited with code ${code}`)))
    return worker
  }

  /**
   * The thread stopped. If it never got ready (its module failed to load), it took no request:
   * sending moves to this thread for good and the requests go out from here. Otherwise requests it
   * had are answered as network errors: each may or may not have reached its receiver, so the retry
   * policy sends it again with the same webhook-id; the next send starts a new thread.
   */
  private lost(worker: Worker, err: Error): void {
    if (this.worker !== worker) return
    this.worker = undefined
    if (this.closed && this.online) {
      this.answerAll(`the sending thread stopped (${err.message})`)
      return
    }
    if (!this.online) {
      this.useMainThread(err)
      return
    }
    this.options.onThreadError?.(err, false)
    // The batch is empty here (it is flushed in the microtask after each send), so every request
    // waiting was handed to this thread.
    this.answerAll(`the sending thread stopped (${err.message}); whether the request reached the receiver is unknown`)
  }

  /** No thread could start: sending moves to this thread for good, beginning with the requests waiting. */
  private useMainThread(err: Error): void {
    this.options.onThreadError?.(err, true)
    const fallback = new UndiciSender(stripThreadOptions(this.options))
    this.inThread = fallback
    this.batch = [] // its requests are waiting too, and go out below
    for (const [id, w] of this.waiting) void fallback.send(w.request, { timeoutMs: w.timeoutMs }).then((r) => this.settle(id, r))
  }

  private answerAll(message: string): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, { latencyMs: 0, error: { code: 'NETWORK', message } })
  }

  /** Waits for the requests in flight to be answered, then stops the thread. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.flush()
    const worker = this.worker
    if (worker) {
      worker.ref()
      const exited = new Promise((resolve) => worker.once('exit', resolve))
      worker.postMessage('close')
      await exited
    }
    await this.inThread?.close()
  }
}

function stripThreadOptions(options: ThreadedSenderOptions): UndiciSenderOptions {
  const { onThreadError: _onThreadError, threadModule: _threadModule, ...rest } = options
  return rest
}
