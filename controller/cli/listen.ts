// `hookwise listen`: a local receiver for troubleshooting. It prints every webhook it gets and whether
// its signature verifies with the secret given, and answers with a fixed status.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { InvalidArgumentError, Option, type Command } from 'commander'
import { maskedHeaders } from '../delivery/request.js'
import type { SigningScheme } from '../delivery/signing.js'
import { SIGNATURE_HEADER, verifySignature, type Verification } from '../delivery/verify.js'
import { UsageError } from '../errors.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'

export interface ListenOptions {
  port: number
  host: string
  /** The signing secret to verify with; without it signatures are shown but not checked. */
  secret?: string
  scheme?: SigningScheme
  /** HTTP status to answer every webhook with. */
  status: number
  /** One JSON object per line instead of text. */
  json?: boolean
}

/** One webhook as received: what --json prints, one per line. */
export interface ReceivedWebhook {
  time: string
  method: string
  path: string
  /** Every request header, names in lower case, Authorization masked. */
  headers: Record<string, string>
  /** The body as UTF-8 text. */
  body: string
  /** The body's length in bytes. */
  bytes: number
  /** null when listen was started without --secret. */
  signature: (Verification & { scheme: SigningScheme }) | null
}

/** Bodies above this get a 413: a receiver for troubleshooting has no use for more. */
const MAX_BODY_BYTES = 16 * 1024 * 1024

/** Headers worth a line in the text output, in this order; the rest are only in --json. */
const SHOWN_HEADERS = [
  'webhook-id',
  'content-type',
  'user-agent',
  'authorization',
  'x-wandb-signature',
  'x-wandb-signature-previous',
  'x-hub-signature-256',
  'x-hub-signature-256-previous',
  'webhook-timestamp',
  'webhook-signature',
]

/**
 * Serves until `stop` aborts, or without it until SIGINT or SIGTERM; returns the exit status.
 * `listening on URL` goes to standard error, so that with --json standard output is only webhooks.
 */
export async function listenCommand(options: ListenOptions, io: CliIO, stop?: AbortSignal): Promise<number> {
  if (options.secret === undefined && options.scheme !== undefined)
    throw new UsageError('--scheme needs --secret', 'pass the webhook signing secret with --secret S, or leave out --scheme')
  const scheme = options.secret === undefined ? undefined : (options.scheme ?? 'wandb')
  const server = createServer(
    (req, res) =>
      void receive(req, res).catch((err: unknown) => {
        io.err(`error: ${(err as Error).message}\n`)
        if (!res.headersSent) res.writeHead(500).end()
      }),
  )

  async function receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      reply(res, 405, { error: 'hookwise listen only takes POST requests' }, { Allow: 'POST' })
      req.resume()
      return
    }
    const body = await readBody(req)
    if (body === undefined) {
      reply(res, 413, { error: `bodies over ${MAX_BODY_BYTES} bytes are refused` })
      return
    }
    const signature =
      scheme === undefined ? null : { scheme, ...(await verifySignature({ scheme, secret: options.secret!, headers: req.headers, body })) }
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value
    const received: ReceivedWebhook = {
      time: new Date().toISOString(),
      method: req.method,
      path: req.url ?? '/',
      headers: maskedHeaders(headers),
      body: body.toString('utf8'),
      bytes: body.length,
      signature,
    }
    io.out(options.json ? `${JSON.stringify(received)}\n` : formatReceived(received))
    reply(res, options.status, { received: true, id: headers['webhook-id'] ?? null, verified: signature?.verified ?? null })
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port, options.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    io.err(
      `error HW_LISTEN_FAILED: cannot listen on ${options.host}:${options.port}: ${(err as Error).message}\n  hint: choose another --port (0 picks a free one) or --host\n`,
    )
    return 1
  }
  const { address, port } = server.address() as AddressInfo
  io.err(
    `listening on http://${address.includes(':') ? `[${address}]` : address}:${port}${scheme ? ` (verifying ${scheme} signatures)` : ''}\n`,
  )
  await stopped(stop)
  server.close()
  server.closeAllConnections()
  io.err('stopped\n')
  return 0
}

/** Reads the whole body; undefined when it is over MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size <= MAX_BODY_BYTES) chunks.push(chunk as Buffer)
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)
}

function reply(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  // 204 and 304 answers have no body by definition.
  if (status === 204 || status === 304) {
    res.writeHead(status, headers).end()
    return
  }
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(`${JSON.stringify(body)}\n`)
}

/** The text form: a heading line, the relevant headers, the verdict, then the body as received. */
export function formatReceived(r: ReceivedWebhook): string {
  const lines = [`${r.time} ${r.method} ${r.path}`]
  for (const name of SHOWN_HEADERS) if (r.headers[name] !== undefined) lines.push(`  ${name}: ${r.headers[name]}`)
  if (r.signature === null)
    lines.push('  signature: not checked (start hookwise listen with --secret S --scheme wandb|standard-webhooks|github to check it)')
  else if (r.signature.verified)
    lines.push(`  signature: verified (${r.signature.scheme}, ${r.signature.header ?? SIGNATURE_HEADER[r.signature.scheme]})`)
  else lines.push(`  signature: NOT verified (${r.signature.scheme}): ${r.signature.reason ?? 'no reason given'}`)
  lines.push(`  body: ${r.bytes} bytes`, r.body.endsWith('\n') ? r.body : `${r.body}\n`)
  return `${lines.join('\n')}\n`
}

function stopped(stop: AbortSignal | undefined): Promise<void> {
  if (stop)
    return stop.aborted ? Promise.resolve() : new Promise((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }))
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done)
      process.off('SIGTERM', done)
      resolve()
    }
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
}

/** Commander parser for --port: 0 to 65535 (0 picks a free port). */
export function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('expected a port number from 0 to 65535 (0 picks a free port)')
  return Number(value)
}

/** Commander parser for --status: an HTTP status from 200 to 599. */
export function parseStatus(value: string): number {
  if (!/^\d{3}$/.test(value) || Number(value) < 200 || Number(value) > 599)
    throw new InvalidArgumentError('expected an HTTP status from 200 to 599')
  return Number(value)
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('listen')
    .description('receive webhooks locally: print each one and whether its signature verifies')
    .requiredOption('--port <port>', 'port to listen on (0 picks a free one)', parsePort)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--secret <secret>', 'signing secret to verify signatures with')
    .addOption(
      new Option('--scheme <scheme>', 'signature scheme (default wandb when --secret is given)').choices([
        'wandb',
        'standard-webhooks',
        'github',
      ]),
    )
    .option('--status <code>', 'HTTP status to answer with', parseStatus, 200)
    .option('--json', 'print one JSON object per webhook, one per line')
    .action(async (opts: ListenOptions) => {
      setStatus(await listenCommand(opts, io))
    })
}
