// CloudEvents 1.0 over HTTP, as Knative and Argo Events sinks send them: structured
// (application/cloudevents+json), binary (ce-* headers) and batches
// (application/cloudevents-batch+json), read with the `cloudevents` SDK. Each CloudEvent's `data` is
// a hookwise event; without an id of its own it gets one from the CloudEvent's source and id, which
// the spec makes unique, so a CloudEvent sent again is accepted once. Pure.
import { createHash } from 'node:crypto'
import { type CloudEventV1, HTTP } from 'cloudevents'
import type { Diagnostic } from '../errors.js'

type Headers = Readonly<Record<string, string | string[] | undefined>>

/** Whether a request is a CloudEvent: a CloudEvents content type, or binary mode's ce-id header. */
export function isCloudEventRequest(headers: Headers): boolean {
  const type = String(headers['content-type'] ?? '').toLowerCase()
  return type.startsWith('application/cloudevents') || headers['ce-id'] !== undefined
}

const ID = /^[\x21-\x7e]{1,256}$/

/** The hookwise event id a CloudEvent gives its data: `ce-<source>-<id>`, or a hash when that is no valid id. */
export function cloudEventId(source: string, id: string): string {
  const plain = `ce-${source}-${id}`
  return ID.test(plain) ? plain : `ce-${createHash('sha256').update(`${source}\n${id}`).digest('hex')}`
}

export type CloudEventsResult = { ok: true; values: unknown[] } | { ok: false; diagnostics: Diagnostic[] }

const problem = (message: string): CloudEventsResult => ({
  ok: false,
  diagnostics: [
    {
      code: 'HW_EVENT_INVALID',
      severity: 'error',
      message,
      hint: 'send a CloudEvents 1.0 event (structured, binary or a batch) whose data is a hookwise event (docs/events.md#cloudevents)',
    },
  ],
})

/** The hookwise events carried by a CloudEvents request, not validated yet. */
export function readCloudEvents(headers: Headers, body: string): CloudEventsResult {
  let found: CloudEventV1<unknown> | CloudEventV1<unknown>[]
  try {
    found = HTTP.toEvent({ headers: headers as Record<string, string>, body })
  } catch (err) {
    return problem(`not a valid CloudEvent: ${(err as Error).message}`)
  }
  const events = Array.isArray(found) ? found : [found]
  if (events.length === 0) return problem('the batch holds no CloudEvents')
  const values: unknown[] = []
  for (const [i, ce] of events.entries()) {
    const where = events.length > 1 ? `CloudEvent ${i + 1} (id ${ce.id})` : `CloudEvent ${ce.id}`
    if (ce.specversion !== '1.0') return problem(`${where} has specversion ${ce.specversion}; hookwise reads 1.0`)
    let data: unknown = ce.data
    if (data === undefined && typeof ce.data_base64 === 'string') data = Buffer.from(ce.data_base64, 'base64').toString('utf8')
    if (typeof data === 'string' || data instanceof Uint8Array) {
      try {
        data = JSON.parse(typeof data === 'string' ? data : Buffer.from(data).toString('utf8'))
      } catch {
        return problem(`${where}: its data is not JSON`)
      }
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data))
      return problem(`${where}: its data is not a hookwise event (a JSON object)`)
    const event = data as Record<string, unknown>
    values.push(event.id === undefined ? { ...event, id: cloudEventId(ce.source, ce.id) } : event)
  }
  return { ok: true, values }
}
