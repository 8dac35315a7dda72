// What the delivery pipeline carries from matching to rendering: an artifact event, or a run event
// hookwise fired from a run's metrics or state (docs/run-events.md).
import type { ArtifactEvent, RunEvent } from '../api/types.generated.js'

export type HookwiseEvent = ArtifactEvent | RunEvent

/** Whether the event is a run event (its type starts with RUN_). */
export const isRunEvent = (e: { type: string }): e is RunEvent => e.type.startsWith('RUN_')
