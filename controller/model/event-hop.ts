// How many hookwise deliveries an event has passed through. A Webhook that posts to a hookwise
// intake which, directly or through other controllers, posts back makes a loop (one event became
// 19,998 in 10 s). Every delivery carries `hookwise-hop: N` (the event's hop + 1); an intake takes
// the header's N as the hop of the events it accepts, stores it with them, and refuses events that
// already made MAX_HOPS hops. Pure.
import type { ArtifactEvent } from '../api/types.generated.js'

/** The request header a delivery carries its hop count in. */
export const HOP_HEADER = 'hookwise-hop'

/** An intake refuses events that already passed through this many hookwise deliveries. */
export const MAX_HOPS = 3

// Where the hop is kept on an accepted event, stored with it. The event schema does not allow this
// property (additionalProperties: false), so a sender can only set the hop through the header.
const HOP_PROPERTY = 'hookwiseHop'

/** The hop of an accepted event: 0 for one that did not come from a hookwise delivery. */
export function eventHop(event: object): number {
  const hop = (event as unknown as Record<string, unknown>)[HOP_PROPERTY]
  return typeof hop === 'number' ? hop : 0
}

/** The event as accepted at `hop` (unchanged at 0, so events sent by anyone else are stored as sent). */
export function withHop(event: ArtifactEvent, hop: number): ArtifactEvent {
  return hop === 0 ? event : ({ ...event, [HOP_PROPERTY]: hop } as ArtifactEvent)
}

/** The hop a request's header gives: 0 without one; an error message when it is not a number of hops. */
export function parseHopHeader(value: string | string[] | undefined): { hop: number } | { error: string } {
  if (value === undefined) return { hop: 0 }
  const text = Array.isArray(value) ? value.join(',') : value
  if (!/^\d{1,6}$/.test(text.trim())) return { error: `${HOP_HEADER}: ${JSON.stringify(text)} is not a number of hops` }
  return { hop: Number(text) }
}
