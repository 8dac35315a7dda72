// Every error hookwise reports has a stable code from this table. docs/errors.md documents each one
// (test/generated.test.ts fails when a code is missing there). `disposition` says what happens next:
// terminal errors need the user to change something; transient ones are retried by hookwise.

export type Disposition = 'terminal' | 'transient'

/**
 * How a delivery attempt failed without a response: SendResult.error.code, shown in history and
 * status as `CODE: message`. They are codes of ERROR_CODES like any other, so there is one list
 * (and one page of docs); they keep the names users have seen in history since before the HW_
 * prefix, and EgressDeniedError carries EGRESS_DENIED itself rather than a twin. The retry policy
 * reads the disposition: a terminal attempt error fails the delivery at once.
 */
export const ATTEMPT_ERROR_CODES = {
  TIMEOUT: { disposition: 'transient', summary: "A delivery attempt got no response within the webhook's timeoutSeconds." },
  NETWORK: {
    disposition: 'transient',
    summary: 'A delivery attempt could not reach the receiver (connection refused or reset, DNS, TLS).',
  },
  EGRESS_DENIED: { disposition: 'terminal', summary: 'The egress policy refuses the webhook URL or the address it resolves to.' },
  INVALID_REQUEST: {
    disposition: 'terminal',
    summary: 'The request cannot be sent as built (a header HTTP does not allow); nothing was sent.',
  },
  SLACK_REFUSED: {
    disposition: 'terminal',
    summary:
      'Slack\'s Web API (chat.postMessage) answered 200 with "ok": false: the message was not posted (a bad token, an unknown channel).',
  },
  SLACK_UNAVAILABLE: {
    disposition: 'transient',
    summary: 'Slack\'s Web API answered 200 with "ok": false and an error Slack says to retry (internal_error, service_unavailable).',
  },
} as const satisfies Record<string, { disposition: Disposition; summary: string }>

export type AttemptErrorCode = keyof typeof ATTEMPT_ERROR_CODES

export const ERROR_CODES = {
  HW_USAGE: { disposition: 'terminal', summary: 'The command line is not valid.' },
  HW_PATH_NOT_FOUND: { disposition: 'terminal', summary: 'A file or folder given on the command line does not exist or cannot be read.' },
  HW_FILE_TOO_LARGE: { disposition: 'terminal', summary: 'A manifest or event file is larger than hookwise reads.' },
  HW_SYMLINK_OUTSIDE: {
    disposition: 'terminal',
    summary: 'A symbolic link points outside the folder (or repository) hookwise was given; it is not read (warning).',
  },
  HW_YAML_SYNTAX: { disposition: 'terminal', summary: 'A YAML document could not be parsed.' },
  HW_YAML_LIMIT: { disposition: 'terminal', summary: 'A YAML document exceeds a safety limit (aliases, nesting).' },
  HW_NOT_AN_OBJECT: { disposition: 'terminal', summary: 'A YAML document is not a mapping with apiVersion and kind.' },
  HW_UNKNOWN_KIND: { disposition: 'terminal', summary: 'A document is of a kind hookwise does not load; it is ignored (warning).' },
  HW_SCHEMA: { disposition: 'terminal', summary: 'An object does not match the JSON Schema of its kind.' },
  HW_DUPLICATE_NAME: { disposition: 'terminal', summary: 'Two objects of one kind have the same namespace and name.' },
  HW_REGEX_INVALID: { disposition: 'terminal', summary: 'A regular expression does not compile.' },
  HW_SCOPE_FIELDS: { disposition: 'terminal', summary: 'The scope fields do not fit the scope type.' },
  HW_EVENT_FILTER_FIELDS: { disposition: 'terminal', summary: 'The event filter fields do not fit the event type.' },
  HW_METADATA_CONDITION: { disposition: 'terminal', summary: 'A metadata condition is incomplete or its value does not fit its operator.' },
  HW_FILTER_INVALID: {
    disposition: 'terminal',
    summary: 'An event.filter names an operator or field the filter language does not have, or an operand that does not fit.',
  },
  HW_PAYLOAD_CHOICE: {
    disposition: 'terminal',
    summary: 'An action needs exactly one of payload, payloadTemplate, slack and noop, and a webhook unless it is noop.',
  },
  HW_TEMPLATE_SYNTAX: { disposition: 'terminal', summary: 'A payload template does not parse.' },
  HW_TEMPLATE_UNKNOWN_VARIABLE: {
    disposition: 'terminal',
    summary: 'A payload template uses a variable that does not exist or is not available for the event type.',
  },
  HW_TEMPLATE_SECRET_NOT_GRANTED: { disposition: 'terminal', summary: 'A payload template uses a secret its webhook does not grant.' },
  HW_WEBHOOK_NOT_FOUND: { disposition: 'terminal', summary: 'An automation refers to a Webhook that does not exist in its namespace.' },
  HW_WEBHOOK_INVALID: { disposition: 'terminal', summary: 'An automation refers to a Webhook that has errors of its own.' },
  HW_SIGNING_SECRET_UNKNOWN: {
    disposition: 'terminal',
    summary: 'signing.secret or signing.previousSecret is not one of the webhook secrets.',
  },
  HW_SIGNING_SECRET_INVALID: {
    disposition: 'terminal',
    summary: 'A standard-webhooks signing secret is not base64 (with or without whsec_) or its key is shorter than 24 bytes.',
  },
  HW_SECRET_NAME_RESERVED: { disposition: 'terminal', summary: 'A webhook secret is named like a built-in variable.' },
  HW_HEADER_RESERVED: { disposition: 'terminal', summary: 'A static header would override one hookwise or HTTP sets.' },
  HW_HEADER_INVALID: { disposition: 'terminal', summary: 'A static header name or value holds characters HTTP cannot send.' },
  HW_WEBHOOK_UNSIGNED: { disposition: 'terminal', summary: 'A warning: a webhook has secrets but signs nothing.' },
  HW_URL_INVALID: { disposition: 'terminal', summary: 'A webhook URL is not a valid http(s) URL without credentials.' },
  HW_URL_NOT_GLOBAL: {
    disposition: 'terminal',
    summary: 'A webhook URL is an IP address that is not globally reachable; egress refuses it unless --egress-allow covers it (warning).',
  },
  HW_SECRET_DATA_INVALID: { disposition: 'terminal', summary: 'A Secret data value is not valid base64.' },
  HW_SECRET_DUPLICATE: {
    disposition: 'terminal',
    summary: 'A webhook refers to a Secret that is defined twice; neither copy is used and its deliveries wait.',
  },
  HW_SECRET_NOT_FOUND: { disposition: 'transient', summary: 'A Secret or key a webhook refers to does not exist (yet).' },
  HW_AUTOMATION_NOT_FOUND: { disposition: 'terminal', summary: 'The automation named on the command line is not in the manifests.' },
  HW_EVENT_SOURCE_KIND: { disposition: 'terminal', summary: 'An EventSource needs exactly one of spec.mlflow and spec.wandb.' },
  HW_EVENT_SOURCE_NOT_FOUND: {
    disposition: 'terminal',
    summary: 'The EventSource named (in a path or on the command line) does not exist.',
  },
  HW_SOURCE_UNVERIFIED: {
    disposition: 'terminal',
    summary: "A request to an EventSource's intake has a wrong or missing signature, timestamp or token; nothing is stored.",
  },
  HW_MLFLOW_UNREACHABLE: {
    disposition: 'transient',
    summary: "MLflow's REST API could not be reached or refused a request; the event waits and enrichment is retried.",
  },
  HW_SERVER_UNREACHABLE: {
    disposition: 'transient',
    summary: 'A command could not reach the hookwise API, or the API refused the request.',
  },
  HW_LISTEN_FAILED: { disposition: 'terminal', summary: 'hookwise could not listen on the address given.' },
  HW_STATE_CORRUPT: { disposition: 'terminal', summary: 'The state database (hookwise.db) is damaged; hookwise will not start on it.' },
  HW_CURL_UNSUPPORTED: { disposition: 'terminal', summary: 'hookwise curl cannot reproduce this request as a shell script.' },
  HW_EVENT_JSON: { disposition: 'terminal', summary: 'An event is not valid JSON.' },
  HW_IMPORT_INPUT: { disposition: 'terminal', summary: 'The input of hookwise import wandb is not JSON or JSON Lines.' },
  HW_EVENT_INVALID: { disposition: 'terminal', summary: 'An event does not match the canonical event schema.' },
  HW_KUBECONFIG: {
    disposition: 'terminal',
    summary: 'The Kubernetes configuration (kubeconfig or in-cluster service account) cannot be loaded.',
  },
  HW_KUBERNETES_API: { disposition: 'transient', summary: 'The Kubernetes API server could not be reached or refused a request.' },
  HW_BODY_TOO_LARGE: { disposition: 'terminal', summary: 'A request to the intake is larger than its body limit.' },
  HW_EVENT_LOOP: {
    disposition: 'terminal',
    summary: 'An event arrived from a chain of hookwise deliveries at the hop limit (a webhook loop); the intake refuses it.',
  },
  HW_QUEUE_FULL: { disposition: 'transient', summary: 'The delivery queue is at its bound; the intake refuses new events for now.' },
  HW_STORE_UNWRITABLE: {
    disposition: 'transient',
    summary: 'The state store cannot be written (disk full, I/O error); deliveries and the intake wait until it can.',
  },
  HW_STORE_URL: {
    disposition: 'terminal',
    summary:
      'The PostgreSQL store URL (--store, --store-url-file, HOOKWISE_STORE_URL) is not usable, or puts a password on the command line.',
  },
  HW_STORE_CONNECT: {
    disposition: 'transient',
    summary: 'hookwise could not connect to the PostgreSQL store, or could not migrate its schema.',
  },
  HW_STANDBY_STOPPED: { disposition: 'terminal', summary: 'hookwise was stopped while it waited to become the leader (it exits 0).' },
  ...ATTEMPT_ERROR_CODES,
} as const satisfies Record<string, { disposition: Disposition; summary: string }>

export type ErrorCode = keyof typeof ERROR_CODES

/** Where in the user's input a problem is. All fields are optional: an event from HTTP has no file. */
export interface Location {
  file?: string
  line?: number
  column?: number
  /** The object, as `Kind namespace/name`. */
  object?: string
  /** Field path inside the object or event, e.g. `spec.event.aliasRegex`. */
  path?: string
}

/** One problem found in the user's input. Validation collects these instead of stopping at the first. */
export interface Diagnostic extends Location {
  code: ErrorCode
  severity: 'error' | 'warning'
  message: string
  /** What to do about it. */
  hint?: string
}

function position(d: Diagnostic): string {
  if (!d.file) return ''
  return `${d.file}${d.line ? `:${d.line}` : ''}${d.line && d.column ? `:${d.column}` : ''}: `
}

/** `file:line:col: error CODE: Object ns/name: field.path: message` and an indented hint. */
export function formatText(d: Diagnostic): string {
  const where = [d.object, d.path].filter(Boolean).join(': ')
  return `${position(d)}${d.severity} ${d.code}: ${where ? `${where}: ` : ''}${d.message}${d.hint ? `\n  hint: ${d.hint}` : ''}`
}

/** An error hookwise throws: a stable code, a message that says what is wrong, a hint that says what to do. */
export class HookwiseError extends Error {
  readonly code: ErrorCode
  readonly hint: string | undefined
  readonly location: Location

  constructor(code: ErrorCode, message: string, options: { hint?: string; location?: Location; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'HookwiseError'
    this.code = code
    this.hint = options.hint
    this.location = options.location ?? {}
  }

  get disposition(): Disposition {
    return ERROR_CODES[this.code].disposition
  }

  toDiagnostic(): Diagnostic {
    return { ...this.location, code: this.code, severity: 'error', message: this.message, ...(this.hint ? { hint: this.hint } : {}) }
  }
}

/** The command line is wrong: the CLI exits with status 2. */
export class UsageError extends HookwiseError {
  constructor(message: string, hint?: string) {
    super('HW_USAGE', message, hint === undefined ? {} : { hint })
    this.name = 'UsageError'
  }
}

/** The state database is damaged (not a database, or PRAGMA quick_check finds errors): hookwise does not start on it. */
export class StateCorruptError extends HookwiseError {
  constructor(path: string, detail: string) {
    super('HW_STATE_CORRUPT', `the state database ${path} is damaged: ${detail}`, {
      hint: `stop hookwise, move ${path} (and ${path}-wal, ${path}-shm if present) aside, and start again: hookwise starts with an empty outbox (the pending deliveries and history in the damaged file are lost); or restore the file from a backup`,
    })
    this.name = 'StateCorruptError'
  }
}

/** An intake request body is over the limit: the intake answers 413 and closes the connection. */
export class BodyTooLargeError extends HookwiseError {
  constructor(limit: number) {
    super('HW_BODY_TOO_LARGE', `the body is larger than ${limit} bytes; send fewer events per request`)
    this.name = 'BodyTooLargeError'
  }
}

/**
 * The delivery queue is over its bound, in all or (with `webhook`) for one of the webhooks the
 * request's events matched: the intake answers 503 with Retry-After; nothing of the request was stored.
 */
export class QueueFullError extends HookwiseError {
  readonly retryAfterSeconds: number
  constructor(pending: number, max: number, webhook?: string) {
    super(
      'HW_QUEUE_FULL',
      webhook
        ? `webhook ${webhook} holds ${pending} pending deliveries (limit ${max} per webhook); retry later`
        : `the delivery queue holds ${pending} pending deliveries (limit ${max}); retry later`,
      {
        hint: webhook
          ? `retry after the Retry-After seconds; if it lasts, the receiver of ${webhook} is slow or down (hookwise describe webhook ${webhook.split('/').pop()}) or --max-pending-per-webhook is too low`
          : 'retry after the Retry-After seconds; if it lasts, receivers are slow or down (hookwise get webhooks) or --max-pending is too low',
      },
    )
    this.name = 'QueueFullError'
    this.retryAfterSeconds = 5
  }
}

/**
 * The state store cannot be written (its disk is full, an I/O error): the intake answers 503 with
 * Retry-After and nothing is sent until a probe write succeeds again.
 */
export class StoreUnavailableError extends HookwiseError {
  readonly retryAfterSeconds: number
  constructor(reason: string) {
    super('HW_STORE_UNWRITABLE', `the state store cannot be written (${reason}); nothing of this request was stored; retry later`, {
      hint: 'free space on the --state volume (or fix its I/O errors); hookwise finds out by itself and resumes',
    })
    this.name = 'StoreUnavailableError'
    this.retryAfterSeconds = 10
  }
}

/**
 * The egress policy refuses an address; thrown by the connector (or passed to the socket), so
 * nothing is connected. Its code is the one the sender reports for the attempt.
 */
export class EgressDeniedError extends HookwiseError {
  declare readonly code: 'EGRESS_DENIED'
  constructor(message: string) {
    super('EGRESS_DENIED', message)
    this.name = 'EgressDeniedError'
  }
}

/** startController was stopped while waiting to become the leader: not a failure, `hookwise run` exits 0. */
export class StandbyStopped extends HookwiseError {
  constructor() {
    super('HW_STANDBY_STOPPED', 'stopped while waiting to become the leader', {
      hint: 'nothing to do: this replica was asked to stop (SIGTERM, SIGINT) before it led',
    })
    this.name = 'StandbyStopped'
  }
}
