// The W&B bridge: a W&B webhook automation whose payload template (wandbTemplate) arranges W&B's
// `${...}` variables as a hookwise event, and what the intake does to the body W&B renders from it
// (normalizeWandbEvent) before validating it. Pure. docs/sources.md#wb has the table.
import type { ArtifactEvent } from './types.generated.js'

const ARTIFACT_URI = 'wandb-artifact://_id/'
const REGISTRY_PROJECT = 'wandb-registry-'

/**
 * The payload template to paste into a W&B webhook automation for one event type. `metadata` keys
 * become `${artifact_metadata.KEY}` (W&B has no variable for the whole object); W&B substitutes text,
 * so they arrive as strings, which hookwise's numeric filters read as numbers.
 */
export function wandbTemplate(type: ArtifactEvent['type'], metadata: readonly string[] = []): string {
  const lines = [
    '{',
    `  "type": "${type}",`,
    '  "author": "${event_author}",',
    '  "entity": "${entity_name}",',
    '  "project": "${project_name}",',
    '  "collection": "${artifact_collection_name}",',
    '  "artifact": {',
    '    "id": "${artifact_version}",',
    '    "name": "${artifact_collection_name}",',
    `    "version": "\${artifact_version_string}"${metadata.length ? ',' : ''}`,
  ]
  if (metadata.length) {
    lines.push('    "metadata": {')
    lines.push(metadata.map((key) => `      ${JSON.stringify(key)}: "\${artifact_metadata.${key}}"`).join(',\n'))
    lines.push('    }')
  }
  const extra =
    type === 'ADD_ARTIFACT_ALIAS'
      ? '  "alias": "${alias}"'
      : type === 'ADD_ARTIFACT_TAG' || type === 'REMOVE_ARTIFACT_TAG'
        ? '  "tag": "${tag}"'
        : ''
  lines.push(extra ? '  },' : '  }')
  if (extra) lines.push(extra)
  lines.push('}')
  return `${lines.join('\n')}\n`
}

/**
 * The body W&B rendered, made a canonical event: the artifact id without `wandb-artifact://_id/`,
 * the version after the last `:` of `${artifact_version_string}` (for alias events W&B puts the
 * alias there: it gives no version number), the registry from a `wandb-registry-<name>` project.
 * Anything else is left for validation to judge.
 */
export function normalizeWandbEvent(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const event = { ...(value as Record<string, unknown>) }
  if (typeof event.artifact === 'object' && event.artifact !== null && !Array.isArray(event.artifact)) {
    const artifact = { ...(event.artifact as Record<string, unknown>) }
    if (typeof artifact.id === 'string' && artifact.id.startsWith(ARTIFACT_URI)) artifact.id = artifact.id.slice(ARTIFACT_URI.length)
    if (typeof artifact.version === 'string' && artifact.version.includes(':'))
      artifact.version = artifact.version.slice(artifact.version.lastIndexOf(':') + 1)
    event.artifact = artifact
  }
  if (event.registry === undefined && typeof event.project === 'string' && event.project.startsWith(REGISTRY_PROJECT))
    event.registry = event.project.slice(REGISTRY_PROJECT.length)
  return event
}
