// Slack's Web API (chat.postMessage) answers 200 whether or not it posted the message, and says
// which in the body: {"ok": false, "error": "channel_not_found"}. For an action.slack delivery a 2xx
// is therefore not yet success: this reads the answer and turns ok: false into an attempt error
// naming Slack's error. Incoming webhooks answer with HTTP statuses (and a text body), left as they are.
import type { SendResult } from './send-result.js'

// Errors Slack's documentation says to retry (the rest, such as invalid_auth, not_in_channel or
// channel_not_found, need the Webhook or the channel fixed). ratelimited comes with 429 and Retry-After.
const TRANSIENT = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited'])

/** The result of an action.slack attempt, with a 2xx whose body says "ok": false as a Slack error. */
export function judgeSlackAnswer(result: SendResult): SendResult {
  const status = result.statusCode
  if (result.error || status === undefined || status < 200 || status >= 300 || !result.bodyHead?.startsWith('{')) return result
  let answer: unknown
  try {
    answer = JSON.parse(result.bodyHead)
  } catch {
    return result // not JSON, or more than the 4 KiB kept: not a Web API error answer
  }
  if (typeof answer !== 'object' || answer === null || (answer as { ok?: unknown }).ok !== false) return result
  const named = (answer as { error?: unknown }).error
  // The receiver's text, so quoted and cut short.
  const error = typeof named === 'string' ? named.slice(0, 100) : undefined
  const code = error !== undefined && TRANSIENT.has(error) ? 'SLACK_UNAVAILABLE' : 'SLACK_REFUSED'
  const said = error === undefined ? 'without naming an error' : `error ${JSON.stringify(error)}`
  const fix =
    code === 'SLACK_UNAVAILABLE'
      ? 'retried'
      : "not posted; check the Webhook's bot token (accessToken) and action.slack.channel (the bot must be in the channel), then hookwise redeliver"
  return { ...result, error: { code, message: `Slack answered ${status} with "ok": false, ${said}: ${fix}` } }
}
