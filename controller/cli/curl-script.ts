// The bash script `hookwise curl` prints: curl + openssl reproducing one request byte for byte.
// Secrets are shell variables the user exports (or, revealed, assigns in the script), and the
// signature is computed by the script from them, so it stays right when the real secret is put in. Pure.
import type { WebhookSpec } from '../api/types.generated.js'
import type { DefaultedWebhookSpec } from '../model/desired-state.js'
import { HookwiseError } from '../errors.js'
import { buildRequest } from '../delivery/request.js'
import { PLACEHOLDER_SECRET, PREVIOUS_SIGNATURE_HEADER, type SigningScheme } from '../delivery/signing.js'
import { ACCESS_TOKEN } from '../model/secrets.js'
import { VERSION } from '../version.js'

export interface CurlScriptInput {
  /** `namespace/name` of the automation and of its webhook, for the heading. */
  automation: string
  webhook: { namespace: string; name: string; spec: DefaultedWebhookSpec }
  eventId?: string
  /** The rendered body, exactly. */
  body: string
  /** Known secret values by variable name. Their occurrences in the body become shell variables. */
  secrets: Readonly<Record<string, string>>
  /** Assign the secret values in the script instead of asking for them. */
  reveal: boolean
  deliveryId: string
  /** Unix seconds to sign with; without it the script takes the time it runs (standard-webhooks only). */
  timestamp?: number
}

/** Single-quotes text for bash: everything inside is literal, newlines included. */
export function shellQuote(text: string): string {
  if (text.includes('\0'))
    throw new HookwiseError('HW_CURL_UNSUPPORTED', 'a value contains a NUL byte, which a shell variable cannot hold', {
      hint: 'hookwise curl cannot reproduce this request; use hookwise render --show-headers',
    })
  return `'${text.replaceAll("'", `'\\''`)}'`
}

/** Names the shell, curl or openssl give a meaning to; a secret of that name gets a HOOKWISE_ prefix in the script. */
const RESERVED =
  /^(PATH|IFS|HOME|PWD|OLDPWD|SHELL|SHELLOPTS|UID|EUID|PPID|GROUPS|RANDOM|SRANDOM|SECONDS|LINENO|HOSTNAME|HOSTTYPE|OSTYPE|MACHTYPE|OPTIND|OPTARG|OPTERR|PS[0-4]|PROMPT_COMMAND|TERM|TMPDIR|LANG|LC_\w+|ENV|CDPATH|HIST\w*|MAIL\w*|BASH\w*|FUNCNAME|DIRSTACK|PIPESTATUS|COLUMNS|LINES|_|hw_\w*|CURL_\w+|SSL_\w+|OPENSSL_\w+|(?:http|https|ftp|all|no)_proxy)$/i
const shellName = (variable: string): string => (RESERVED.test(variable) ? `HOOKWISE_${variable}` : variable)

/** `# text` with line breaks and other control characters flattened, so user data cannot leave the comment. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this replaces, so a comment line cannot break the script
const comment = (text: string): string => `# ${text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ')}`

export function curlScript(input: CurlScriptInput): string {
  const { spec } = input.webhook
  const scheme: SigningScheme | undefined = spec.signing?.scheme
  const signingVar = spec.signing?.secret
  const previousVar = spec.signing?.previousSecret
  const bodyParts = splitOnSecrets(input.body, input.secrets, input.reveal)

  // Every secret the script needs, in a stable order: the token, the signing secret, those in the body.
  const needed = new Set<string>()
  if (spec.accessToken) needed.add(ACCESS_TOKEN)
  if (signingVar) needed.add(signingVar)
  if (previousVar) needed.add(previousVar)
  for (const part of bodyParts) if (part.variable) needed.add(part.variable)

  const lines = [
    '#!/usr/bin/env bash',
    comment(
      `hookwise ${VERSION} curl: the request automation ${input.automation} sends${input.eventId ? ` for event ${input.eventId}` : ''}`,
    ),
    comment(
      `to webhook ${input.webhook.namespace}/${input.webhook.name}, byte for byte, signature included. Needs bash, curl and openssl.`,
    ),
    comment('To send it somewhere else, e.g. to hookwise listen: HOOKWISE_URL=http://127.0.0.1:8080/ bash THIS_FILE'),
    'set -euo pipefail',
    '',
  ]
  if (needed.size > 0) {
    lines.push(
      comment(
        input.reveal
          ? 'Secret values, revealed: keep this script private.'
          : 'Secrets are not in this script: export each one before running it.',
      ),
    )
    for (const variable of needed) {
      const where = secretSource(spec, variable, input.webhook.namespace)
      const value = input.secrets[variable]
      if (input.reveal && value !== undefined) lines.push(`${shellName(variable)}=${shellQuote(value)}  ${comment(where)}`)
      else lines.push(`: "\${${shellName(variable)}:?export ${shellName(variable)} first: ${where}}"`)
    }
    lines.push('')
  }
  lines.push(`hw_url=${shellQuote(spec.url)}`, 'hw_url="${HOOKWISE_URL:-$hw_url}"', `hw_webhook_id=${shellQuote(input.deliveryId)}`)
  if (scheme === 'standard-webhooks')
    lines.push(input.timestamp === undefined ? 'hw_timestamp="$(date +%s)"' : `hw_timestamp=${shellQuote(String(input.timestamp))}`)
  lines.push(comment(`The body, ${Buffer.byteLength(input.body)} bytes; printf '%s' sends it without adding a newline.`))
  lines.push(`hw_body=${bodyParts.map((p) => (p.variable ? `"\${${shellName(p.variable)}}"` : shellQuote(p.text))).join('')}`)
  if (scheme && signingVar) lines.push(...signatureLines(scheme, shellName(signingVar), 'hw_signature'))
  if (scheme && previousVar) {
    lines.push(comment(`Rotating: signed with the previous secret ${previousVar} too, for receivers that still hold it.`))
    lines.push(...signatureLines(scheme, shellName(previousVar), 'hw_signature_previous'))
  }
  lines.push('')

  // The headers exactly as buildRequest orders them; placeholder values only tell which are present.
  const placeholders: Record<string, string> = {}
  for (const variable of needed)
    placeholders[variable] = variable === signingVar || variable === previousVar ? PLACEHOLDER_SECRET : variable
  const request = buildRequest({ webhook: spec, secrets: placeholders, body: input.body, deliveryId: input.deliveryId, timestamp: 0 })
  const previousHeader = scheme === 'wandb' || scheme === 'github' ? PREVIOUS_SIGNATURE_HEADER[scheme] : undefined
  const args = [`--silent --show-error --include --max-time ${spec.timeoutSeconds} --request POST --url "$hw_url"`]
  for (const [name, value] of Object.entries(request.headers)) {
    if (name === 'Authorization') args.push(`--header "Authorization: Bearer \${${shellName(ACCESS_TOKEN)}}"`)
    else if (name === 'webhook-id') args.push('--header "webhook-id: $hw_webhook_id"')
    else if (name === 'webhook-timestamp' && scheme === 'standard-webhooks') args.push('--header "webhook-timestamp: $hw_timestamp"')
    else if (name === 'webhook-signature' && scheme === 'standard-webhooks')
      args.push(`--header "webhook-signature: $hw_signature${previousVar ? ' $hw_signature_previous' : ''}"`)
    else if (name === previousHeader && previousVar) args.push(`--header "${name}: $hw_signature_previous"`)
    else if ((name === 'X-Wandb-Signature' && scheme === 'wandb') || (name === 'X-Hub-Signature-256' && scheme === 'github'))
      args.push(`--header "${name}: $hw_signature"`)
    // curl sends `Name;` as a header with an empty value (`Name:` would remove it).
    else args.push(`--header ${shellQuote(value === '' ? `${name};` : `${name}: ${value}`)}`)
  }
  if (!Object.keys(request.headers).some((h) => h.toLowerCase() === 'accept')) {
    args.push(`--header 'Accept:'`)
    lines.push(comment("curl's default Accept header is left out, so that only hookwise's headers are sent."))
  }
  args.push('--data-binary @-')
  lines.push(`printf '%s' "$hw_body" | curl ${args.join(' \\\n  ')}`, '')
  return lines.join('\n')
}

/** The lines that compute `$out` from the secret in shell variable `name` with openssl, as signing.ts does. */
function signatureLines(scheme: SigningScheme, name: string, out: string): string[] {
  const hex = "od -An -v -tx1 | tr -d ' \\n'"
  const secret = `"$${name}"`
  switch (scheme) {
    case 'wandb':
      return [
        comment('X-Wandb-Signature: base64(HMAC-SHA256(secret, body))'),
        `${out}="$(printf '%s' "$hw_body" | openssl dgst -sha256 -hmac ${secret} -binary | base64)"`,
      ]
    case 'github':
      return [
        comment('X-Hub-Signature-256: sha256=hex(HMAC-SHA256(secret, body))'),
        `${out}="sha256=$(printf '%s' "$hw_body" | openssl dgst -sha256 -hmac ${secret} -binary | ${hex})"`,
      ]
    case 'standard-webhooks':
      return [
        comment('webhook-signature: v1,base64(HMAC-SHA256(key, "id.timestamp.body")); the key is the secret base64-decoded,'),
        comment('with or without whsec_, as the standardwebhooks libraries read it.'),
        `hw_key="\${${name}#whsec_}"`,
        `[[ $hw_key =~ ^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$ ]] || { echo "${name} is not base64 (with or without whsec_): not a standard-webhooks key" >&2; exit 1; }`,
        `hw_key_hex="$(printf '%s' "$hw_key" | openssl base64 -d -A | ${hex})"`,
        `${out}="v1,$(printf '%s.%s.%s' "$hw_webhook_id" "$hw_timestamp" "$hw_body" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hw_key_hex" -binary | base64)"`,
      ]
  }
}

function secretSource(spec: WebhookSpec, variable: string, namespace: string): string {
  const ref = variable === ACCESS_TOKEN ? spec.accessToken?.secretKeyRef : spec.secrets?.find((s) => s.name === variable)?.secretKeyRef
  return ref ? `key ${ref.key} of Secret ${namespace}/${ref.name}` : `the webhook secret ${variable}`
}

interface BodyPart {
  text: string
  /** Set when this part is the value of that secret. */
  variable?: string
}

/**
 * The body cut into literal text and secret values, longest value first where two start at one place.
 * A secret the body holds only JSON-escaped cannot be a plain shell variable: without --reveal-secrets
 * that is an error (revealed, it stays inline).
 */
function splitOnSecrets(body: string, secrets: Readonly<Record<string, string>>, reveal: boolean): BodyPart[] {
  const values = Object.entries(secrets)
    .filter(([, v]) => v.length > 0)
    .sort((a, b) => b[1].length - a[1].length)
  for (const [variable, value] of values) {
    const escaped = JSON.stringify(value).slice(1, -1)
    if (!reveal && escaped !== value && body.includes(escaped)) {
      throw new HookwiseError(
        'HW_CURL_UNSUPPORTED',
        `the body holds the secret ${variable} JSON-escaped, so the script cannot take it from a shell variable`,
        { hint: 'run hookwise curl with --reveal-secrets to put the secret in the script, and keep the script private' },
      )
    }
  }
  const parts: BodyPart[] = []
  let text = ''
  for (let i = 0; i < body.length; ) {
    const hit = values.find(([, v]) => body.startsWith(v, i))
    if (hit) {
      if (text) parts.push({ text })
      parts.push({ text: hit[1], variable: hit[0] })
      text = ''
      i += hit[1].length
    } else {
      text += body[i]
      i += 1
    }
  }
  if (text || parts.length === 0) parts.push({ text })
  return parts
}
