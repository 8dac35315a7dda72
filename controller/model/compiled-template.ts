// What a compiled payload template offers the stages after it (matching keeps it, delivery renders it);
// template/compile.ts makes one.
import type { HookwiseEvent } from './hookwise-event.js'

/** A `${...}` reference in a template. */
export interface Placeholder {
  /** The variable, e.g. `artifact_version_string`, `artifact_metadata.accuracy` or a secret name. */
  name: string
  /** `${json:NAME}`: inserted as a JSON value rather than as text inside a string. */
  json: boolean
  /** Where in the payload: the field path of a structured payload (empty for payloadTemplate text). */
  path: Array<string | number>
  /** Character offset of `${` in the string or text that holds it. */
  offset: number
}

export interface RenderContext {
  event: HookwiseEvent
  /** Secret values by variable name, including ACCESS_TOKEN when the webhook has an access token. */
  secrets: Readonly<Record<string, string>>
  /**
   * Rendered text of the event's variables, shared by every automation rendered for this event, so
   * each is computed and escaped once. Pass a new Map per event (never share one across events);
   * secrets are never cached, as they differ per webhook.
   */
  cache?: Map<string, string>
}

export interface CompiledTemplate {
  placeholders: Placeholder[]
  /** The request body, valid JSON. Throws HW_SECRET_NOT_FOUND when a secret the template uses has no value. */
  render(context: RenderContext): string
}
