// `action.slack`: W&B's Slack notification (title, message, severity) as a Slack message in Block
// Kit, compiled into a payload template like any other so that delivery (outbox, retries, egress
// policy, history) sends it unchanged: to an incoming-webhook URL as it is, or to chat.postMessage
// with the bot token as the Webhook's accessToken and `channel` in the body. Pure.
//
// Slack's documented limits (api.slack.com/reference/block-kit/blocks): a header's plain_text at
// most 150 characters, a section's text at most 3,000, a context block at most 10 elements, a
// message at most 50 blocks; the top-level `text` (the notification fallback) is cut by Slack after
// 40,000. The template texts are checked at validation (checkSlackMessage); what variables insert
// is cut to the limits when rendering, so a long alias never makes Slack refuse the message.
import type { ChatPostMessageArguments } from '@slack/web-api'
import type { CompiledTemplate, RenderContext } from '../model/compiled-template.js'
import { compilePayload, type CompileResult, type TemplateProblem } from './compile.js'

export interface SlackAction {
  title?: string
  message: string
  severity?: 'INFO' | 'WARN' | 'ERROR'
  channel?: string
}

type Blocks = Extract<ChatPostMessageArguments, { blocks: unknown }>['blocks']

export const SLACK_LIMITS = { headerText: 150, sectionText: 3000, contextElements: 10, blocks: 50, text: 40000 } as const

const SEVERITY_LABEL: Record<NonNullable<SlackAction['severity']>, string> = {
  INFO: ':information_source: INFO',
  WARN: ':warning: WARN',
  ERROR: ':rotating_light: ERROR',
}

/** Cuts `text` to `max` characters (code points), ending with … when cut. */
function cut(text: string, max: number): string {
  const chars = [...text]
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`
}

/** The Slack message for rendered texts. */
export function slackMessage(title: string, message: string, action: SlackAction, eventType: string): Record<string, unknown> {
  const severity = action.severity ?? 'INFO'
  const blocks: Blocks = [
    ...(title
      ? [{ type: 'header' as const, text: { type: 'plain_text' as const, text: cut(title, SLACK_LIMITS.headerText), emoji: true } }]
      : []),
    { type: 'section', text: { type: 'mrkdwn', text: cut(message, SLACK_LIMITS.sectionText) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: `${SEVERITY_LABEL[severity]} · ${eventType} · hookwise` }] },
  ]
  const text = cut(title ? `${title}: ${message}` : message, SLACK_LIMITS.text)
  return { ...(action.channel ? { channel: action.channel } : {}), text, blocks }
}

/** Problems of the message as written (its template texts), against Slack's limits; paths below action.slack. */
export function checkSlackMessage(action: SlackAction): TemplateProblem[] {
  const problems: TemplateProblem[] = []
  const blocks = slackMessage(action.title ?? '', action.message, action, 'LINK_ARTIFACT').blocks as Array<Record<string, unknown>>
  if ([...(action.title ?? '')].length > SLACK_LIMITS.headerText)
    problems.push({
      path: ['title'],
      offset: 0,
      message: `the title is ${[...(action.title ?? '')].length} characters; Slack allows ${SLACK_LIMITS.headerText} in a header`,
      hint: 'shorten the title; put details in message',
    })
  if ([...action.message].length > SLACK_LIMITS.sectionText)
    problems.push({
      path: ['message'],
      offset: 0,
      message: `the message is ${[...action.message].length} characters; Slack allows ${SLACK_LIMITS.sectionText} in a section`,
      hint: 'shorten the message',
    })
  if (blocks.length > SLACK_LIMITS.blocks)
    problems.push({
      path: [],
      offset: 0,
      message: `the message has ${blocks.length} blocks; Slack allows ${SLACK_LIMITS.blocks}`,
      hint: 'shorten it',
    })
  return problems
}

/** Compiles the action: title and message are templates with the payload variables. */
export function compileSlackMessage(action: SlackAction): CompileResult {
  const problems = checkSlackMessage(action)
  if (problems.length) return { ok: false, problems }
  const inner = compilePayload({ title: action.title ?? '', message: action.message })
  if (!inner.ok) return inner
  const template: CompiledTemplate = {
    placeholders: inner.template.placeholders,
    render(context: RenderContext): string {
      const { title, message } = JSON.parse(inner.template.render(context)) as { title: string; message: string }
      return JSON.stringify(slackMessage(title, message, action, context.event.type))
    },
  }
  return { ok: true, template }
}
