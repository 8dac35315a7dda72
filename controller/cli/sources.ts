// `hookwise sources wandb-template` and `hookwise sources mlflow-command`: what to paste into a
// registry so it sends its events to an EventSource (docs/sources.md).
import type { Command } from 'commander'
import { MLFLOW_EVENT_TYPES } from '../api/mlflow-event.js'
import { wandbTemplate } from '../api/wandb-event.js'
import { HookwiseError, UsageError } from '../errors.js'
import { DEFAULT_NAMESPACE, objectKey } from '../model/desired-state.js'
import { loadDesiredState } from '../sources/load.js'
import { EVENT_TYPES, type ArtifactEventType as EventType } from '../template/variables.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { collect } from './options.js'

export function wandbTemplateCommand(o: { event: string; metadata?: string[] }, io: CliIO): number {
  if (!EVENT_TYPES.includes(o.event as EventType))
    throw new UsageError(`--event ${o.event} is not an event type`, `use one of ${EVENT_TYPES.join(', ')}`)
  io.out(wandbTemplate(o.event as EventType, o.metadata ?? []))
  return 0
}

export interface MlflowCommandOptions {
  manifests: string[]
  secrets?: string[]
  source: string
  publicUrl: string
}

/** The Python call that creates the webhook in MLflow. The secret is read from an environment variable: never printed. */
export async function mlflowCommand(o: MlflowCommandOptions, io: CliIO): Promise<number> {
  const [namespace, name] = o.source.includes('/') ? (o.source.split('/', 2) as [string, string]) : [DEFAULT_NAMESPACE, o.source]
  const key = objectKey(namespace, name)
  const state = await loadDesiredState({ manifests: o.manifests, ...(o.secrets ? { secrets: o.secrets } : {}) })
  const mlflow = state.eventSources.get(key)?.spec.mlflow
  if (!mlflow)
    throw new HookwiseError('HW_EVENT_SOURCE_NOT_FOUND', `no valid MLflow EventSource ${key} in ${o.manifests.join(', ')}`, {
      hint: 'check the name and namespace, and hookwise validate the folder',
    })
  let base: URL
  try {
    base = new URL(o.publicUrl)
  } catch {
    throw new UsageError(
      `--public-url ${o.publicUrl} is not a URL`,
      "give hookwise's API as MLflow reaches it, e.g. https://hookwise.example.com",
    )
  }
  const url = new URL(
    `v1/sources/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`,
    base.href.endsWith('/') ? base.href : `${base.href}/`,
  )
  const ref = mlflow.signingSecret.secretKeyRef
  io.out(`# The value of key ${ref.key} of Secret ${objectKey(namespace, ref.name)} in MLFLOW_WEBHOOK_SECRET, then:
import os
from mlflow import MlflowClient

webhook = MlflowClient(${JSON.stringify(mlflow.trackingUri)}).create_webhook(
    name=${JSON.stringify(`hookwise-${namespace}-${name}`)},
    url=${JSON.stringify(url.href)},
    events=[${Object.keys(MLFLOW_EVENT_TYPES)
      .map((e) => JSON.stringify(e))
      .join(', ')}],
    secret=os.environ["MLFLOW_WEBHOOK_SECRET"],
)
print(webhook.webhook_id)
`)
  return 0
}

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  const sources = cli.command('sources').description('connect a registry to an EventSource')
  sources
    .command('wandb-template')
    .description('print the payload template of a W&B webhook automation that sends one event type to a W&B EventSource')
    .requiredOption('--event <type>', `the automation's event type: ${EVENT_TYPES.join(', ')}`)
    .option('--metadata <key>', 'a metadata key to carry as artifact.metadata.KEY (repeatable)', collect)
    .action((opts: { event: string; metadata?: string[] }) => setStatus(wandbTemplateCommand(opts, io)))
  sources
    .command('mlflow-command')
    .description("print the MLflow Python call that creates the webhook posting to an MLflow EventSource's intake")
    .requiredOption('--manifests <dir>', 'folder with the EventSource (repeatable)', collect)
    .requiredOption('--source <[namespace/]name>', 'the EventSource (namespace defaults to default)')
    .requiredOption('--public-url <url>', "hookwise's API as MLflow reaches it")
    .option('--secrets <dir>', 'folder of Secret manifests (repeatable)', collect)
    .action(async (opts: MlflowCommandOptions) => setStatus(await mlflowCommand(opts, io)))
}
