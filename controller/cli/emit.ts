// `hookwise emit`: sends events to a running hookwise from a CI pipeline or a registry hook.
import type { Command } from 'commander'
import { request } from 'undici'
import { parseEvent, validateEvent } from '../api/event.js'
import type { ArtifactEvent } from '../api/types.generated.js'
import { HookwiseError, UsageError } from '../errors.js'
import { formatText } from '../errors.js'
import type { CommandContext } from './command.js'
import { readInput, type CliIO } from './io.js'
import { clientToken, collect } from './options.js'
import { readRunMessages } from './run-messages.js'

export interface EmitOptions {
  to: string
  tokenFile?: string
  event?: string
  type?: string
  entity?: string
  project?: string
  registry?: string
  collection?: string
  artifactId?: string
  artifactName?: string
  artifactVersion?: string
  artifactType?: string
  alias?: string
  tag?: string
  author?: string
  id?: string
  metadata?: string[]
  /** A file of run messages (docs/run-events.md), sent to /v1/runs instead of an event. */
  run?: string
  /** Attempts when the server answers 429/503 or cannot be reached. Default 5. */
  attempts?: number
}

function metadataValue(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

function eventFromFlags(o: EmitOptions): unknown {
  const metadata: Record<string, unknown> = {}
  for (const kv of o.metadata ?? []) {
    const i = kv.indexOf('=')
    if (i <= 0)
      throw new UsageError(
        `--metadata ${kv} is not KEY=VALUE`,
        'e.g. --metadata accuracy=0.93 (values are parsed as JSON when they can be)',
      )
    metadata[kv.slice(0, i)] = metadataValue(kv.slice(i + 1))
  }
  const name = o.artifactName ?? o.collection
  return {
    ...(o.id ? { id: o.id } : {}),
    type: o.type,
    ...(o.author ? { author: o.author } : {}),
    entity: o.entity,
    project: o.project,
    ...(o.registry ? { registry: o.registry } : {}),
    collection: o.collection,
    artifact: {
      id: o.artifactId ?? (name && o.artifactVersion ? Buffer.from(`${name}:${o.artifactVersion}`).toString('base64') : undefined),
      name,
      version: o.artifactVersion,
      ...(o.artifactType ? { type: o.artifactType } : {}),
      ...(o.metadata?.length ? { metadata } : {}),
    },
    ...(o.alias ? { alias: o.alias } : {}),
    ...(o.tag ? { tag: o.tag } : {}),
  }
}

function intakeUrl(to: string, path = '/v1/events'): string {
  let url: URL
  try {
    url = new URL(to)
  } catch {
    throw new UsageError(`--to ${to} is not a URL`, 'e.g. --to http://hookwise.ml-platform:8080')
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = path
  return url.toString()
}

export async function emitCommand(o: EmitOptions, io: CliIO, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (o.run) return emitRuns(o, o.run, io, env)
  let event: ArtifactEvent
  if (o.event) {
    const parsed = parseEvent(await readInput(o.event, io), o.event)
    if (!parsed.ok) {
      io.err(`${parsed.diagnostics.map(formatText).join('\n')}\n`)
      return 1
    }
    event = parsed.event
  } else {
    const r = validateEvent(eventFromFlags(o))
    if (!r.ok) {
      io.err(
        `${r.diagnostics.map((d) => formatText({ ...d, path: `--${(d.path ?? '').replace(/^artifact\./, 'artifact-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` })).join('\n')}\n`,
      )
      return 1
    }
    event = r.event
  }
  const url = intakeUrl(o.to)
  const answer = await post(url, JSON.stringify(event), o, env)
  if (answer.status === 202) {
    const events = (JSON.parse(answer.text) as { events: Array<{ id: string; duplicate: boolean; deliveries: unknown[] }> }).events
    for (const e of events) io.out(eventLine(e))
    return 0
  }
  io.err(`${url} answered ${answer.status}: ${answer.text}\n`)
  return 1
}

const eventLine = (e: { id: string; duplicate: boolean; deliveries: unknown[] }): string =>
  e.duplicate
    ? `event ${e.id}: duplicate, already accepted\n`
    : `event ${e.id}: accepted, ${e.deliveries.length} deliver${e.deliveries.length === 1 ? 'y' : 'ies'}\n`

/** `--run FILE`: run metric points and state changes, one message or a list, to /v1/runs. */
async function emitRuns(o: EmitOptions, file: string, io: CliIO, env: NodeJS.ProcessEnv): Promise<number> {
  const messages = await readRunMessages(file, io)
  if (!messages) return 1
  const url = intakeUrl(o.to, '/v1/runs')
  const answer = await post(url, JSON.stringify(messages), o, env)
  if (answer.status === 202) {
    const a = JSON.parse(answer.text) as {
      messages: number
      points: number
      fired: Array<{ id: string; duplicate: boolean; deliveries: unknown[] }>
    }
    io.out(`run messages: ${a.messages} accepted, ${a.points} metric values kept, ${a.fired.length} run events fired\n`)
    for (const e of a.fired) io.out(eventLine(e))
    return 0
  }
  io.err(`${url} answered ${answer.status}: ${answer.text}\n`)
  return 1
}

/** POSTs a JSON body, trying again on 429, 503 and connection failures (up to --attempts). */
async function post(url: string, body: string, o: EmitOptions, env: NodeJS.ProcessEnv): Promise<{ status: number; text: string }> {
  const token = clientToken(o.tokenFile, env)
  const attempts = o.attempts ?? 5
  for (let attempt = 1; ; attempt++) {
    let status: number
    let text: string
    let retryAfter: number | undefined
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      })
      status = res.statusCode
      text = await res.body.text()
      const ra = Number(res.headers['retry-after'])
      retryAfter = Number.isFinite(ra) ? ra : undefined
    } catch (err) {
      if (attempt >= attempts)
        throw new HookwiseError('HW_SERVER_UNREACHABLE', `cannot reach ${url}: ${(err as Error).message}`, {
          hint: 'check --to and that hookwise run is listening there',
        })
      await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** (attempt - 1), 10_000)))
      continue
    }
    if ((status === 429 || status === 503) && attempt < attempts) {
      await new Promise((r) => setTimeout(r, Math.min((retryAfter ?? 2 ** attempt) * 1000, 30_000)))
      continue
    }
    return { status, text }
  }
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('emit')
    .description('send an artifact event to a running hookwise (from CI, a registry hook, a script)')
    .requiredOption('--to <url>', 'hookwise API URL, e.g. http://127.0.0.1:8080')
    .option('--token-file <file>', 'intake bearer token (or HOOKWISE_INTAKE_TOKEN)')
    .option('--event <file>', 'the event as a JSON file (- for standard input); or build it from the flags below')
    .option('--type <type>', 'event type, e.g. ADD_ARTIFACT_ALIAS')
    .option('--entity <entity>', 'entity (team)')
    .option('--project <project>', 'project')
    .option('--registry <registry>', 'registry of the collection')
    .option('--collection <collection>', 'collection')
    .option('--artifact-name <name>', 'artifact name (default: the collection)')
    .option('--artifact-version <version>', 'version, e.g. v7')
    .option('--artifact-id <id>', 'artifact id (default: base64 of name:version)')
    .option('--artifact-type <type>', 'artifact type, e.g. model')
    .option('--alias <alias>', 'alias added (ADD_ARTIFACT_ALIAS)')
    .option('--tag <tag>', 'tag added or removed (tag events)')
    .option('--author <user>', 'who caused the event')
    .option('--id <id>', 'event id, for deduplication (default: generated)')
    .option('--metadata <key=value>', 'a top-level metadata value, JSON when it parses (repeatable)', collect)
    .option(
      '--run <file>',
      'run metric points and state changes as a JSON file (- for standard input), sent to /v1/runs instead of an event',
    )
    .action(async (opts: EmitOptions) => setStatus(await emitCommand(opts, io)))
}
