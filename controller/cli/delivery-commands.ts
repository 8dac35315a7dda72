// Registers the commands of the delivery side: run, emit, deliveries, delivery, redeliver, get, describe.
import { InvalidArgumentError, Option, type Command } from 'commander'
import type { DeliveryStatus } from '../model/delivery.js'
import { emitCommand, type EmitOptions } from './emit.js'
import { deliveriesCommand, deliveryCommand, redeliverCommand } from './history.js'
import type { CliIO } from './io.js'
import type { RunOptions } from '../app/start-controller.js'
import { runCommand } from './run.js'
import { describeCommand, getCommand } from './status.js'
import { testWebhookCommand, type TestWebhookOptions } from './test-webhook.js'
import { collect } from './options.js'

function positive(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('expected a positive whole number')
  return Number(value)
}

/** `30s`, `5m`, `1h` (or plain milliseconds like `1500ms`) as milliseconds; at least 1s. */
export function parseInterval(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim())
  const ms = m ? Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'] : NaN
  if (!(ms >= 1000)) throw new InvalidArgumentError('expected a duration of at least 1s, e.g. 30s, 5m or 1h')
  return Math.round(ms)
}

// The same bounds as a Webhook's spec.retry.
function retryMaxAttempts(value: string): number {
  const n = positive(value)
  if (n > 20) throw new InvalidArgumentError('expected 1 to 20 (the bounds of spec.retry.maxAttempts)')
  return n
}

function retryMaxBackoff(value: string): number {
  const ms = parseInterval(value)
  if (ms > 86_400_000) throw new InvalidArgumentError('expected at most 24h (the bound of spec.retry.maxBackoffSeconds)')
  return ms
}

export function registerDeliveryCommands(cli: Command, io: CliIO, setStatus: (status: number) => void): void {
  cli
    .command('run')
    .description('run the controller on a folder or a git branch: follow it, take events over HTTP, deliver durably')
    .option('--dir <dir>', 'folder of Webhook and Automation manifests, watched for changes (repeatable; or --git)', collect)
    .option('--git <url>', 'follow a branch of this git repository instead of --dir (no credentials in the URL)')
    .option('--branch <branch>', 'branch to follow (--git; default: main)')
    .option('--path <dir>', 'folder of the manifests inside the repository (--git; default: its root)')
    .addOption(new Option('--interval <duration>', 'time between fetches, e.g. 30s, 5m, 1h (--git)').argParser(parseInterval).default(undefined, '30s'))
    .option('--ssh-key-file <file>', 'private key for an ssh repository URL (--git)')
    .option('--token-file <file>', 'token for an https repository URL, sent as an HTTP Authorization header (--git)')
    .option('--kubernetes', 'reconcile the Webhook and Automation custom resources of the cluster instead of --dir or --git')
    .option('--namespace <ns>', 'watch only this namespace (repeatable; --kubernetes; default: all namespaces)', collect)
    .option('--kubeconfig <file>', 'kubeconfig to use (--kubernetes; default: $KUBECONFIG, ~/.kube/config, or the pod\'s service account)')
    .addOption(new Option('--tenancy <mode>', 'namespace-label: a namespace only gets events of the entities in its hookwise.dev/entities annotation or label (--kubernetes)').choices(['none', 'namespace-label']))
    .option('--no-leader-elect', 'do not take a Lease before working (--kubernetes; only with a single replica)')
    .option('--lease-namespace <ns>', 'namespace of the leader Lease (--kubernetes; default: $POD_NAMESPACE, the first --namespace, or default)')
    .option('--lease-name <name>', 'name of the leader Lease (--kubernetes; default: hookwise-controller)')
    .addOption(new Option('--lease-duration <duration>', 'how long a standby waits for a silent leader before taking over, e.g. 15s (--kubernetes)').argParser(parseInterval).default(undefined, '15s'))
    .addOption(new Option('--status-interval <duration>', 'least time between two status writes of one object when only delivery facts changed (--kubernetes)').argParser(parseInterval).default(undefined, '5s'))
    .addOption(new Option('--api-timeout <duration>', 'how long a request to the Kubernetes API (not a watch) may take (--kubernetes)').argParser(parseInterval).default(undefined, '30s'))
    .option('--secrets <dir>', 'folder of Secret manifests (repeatable)', collect)
    .option('--state <dir>', 'folder of the delivery queue and history (SQLite)', './.hookwise')
    .option('--listen <host:port>', 'address of the HTTP API (intake, status, metrics)', '127.0.0.1:8080')
    .option('--intake-token-file <file>', 'bearer tokens the API accepts, one per line (or HOOKWISE_INTAKE_TOKEN); without any, only loopback')
    .option('--allow-insecure-http', 'allow http:// webhook URLs (default: https only)')
    .option('--egress-allow <cidr>', 'allow deliveries to addresses in this private, loopback or link-local range (repeatable)', collect)
    .addOption(new Option('--durability <mode>', 'normal survives crashes; full also survives power loss (slower)').choices(['normal', 'full']).default('normal'))
    .option('--max-pending <n>', 'pending deliveries beyond which the intake answers 503', positive, 100_000)
    .option('--concurrency <n>', 'delivery attempts in flight in all (default 128)', positive)
    .option('--per-webhook-concurrency <n>', 'delivery attempts in flight per webhook (default 8)', positive)
    .option('--connections-per-origin <n>', 'most connections open at once to one receiver origin (default 16)', positive)
    .option('--retry-max-attempts <n>', 'attempts per delivery for Webhooks without spec.retry, 1 to 20 (default 10)', retryMaxAttempts)
    .addOption(new Option('--retry-max-backoff <duration>', 'longest wait between attempts for Webhooks without spec.retry, at most 24h').argParser(retryMaxBackoff).default(undefined, '12h'))
    .option('--retention-hours <n>', 'how long finished deliveries and their attempts are kept', positive, 24 * 7)
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .action(async (opts: RunOptions) => setStatus(await runCommand(opts, io)))

  cli
    .command('emit')
    .description('send an artifact event to a running hookwise (from CI, a registry hook, a script)')
    .requiredOption('--to <url>', 'hookwise API URL, e.g. http://127.0.0.1:8080')
    .option('--token-file <file>', 'intake bearer token (or HOOKWISE_INTAKE_TOKEN)')
    .option('--event <file>', 'the event as a JSON file (- for standard input); or build it from the flags below')
    .option('--type <type>', 'event type, e.g. ADD_ARTIFACT_ALIAS')
    .option('--entity <entity>', 'entity (team)')
    .option('--project <project>', 'project')
    .option('--registry <registry>', 'registry of the collection')
    .option('--collection <collection>', 'collection')
    .option('--artifact-name <name>', 'artifact name (default: the collection)')
    .option('--artifact-version <version>', 'version, e.g. v7')
    .option('--artifact-id <id>', 'artifact id (default: base64 of name:version)')
    .option('--artifact-type <type>', 'artifact type, e.g. model')
    .option('--alias <alias>', 'alias added (ADD_ARTIFACT_ALIAS)')
    .option('--tag <tag>', 'tag added or removed (tag events)')
    .option('--author <user>', 'who caused the event')
    .option('--id <id>', 'event id, for deduplication (default: generated)')
    .option('--metadata <key=value>', 'a top-level metadata value, JSON when it parses (repeatable)', collect)
    .action(async (opts: EmitOptions) => setStatus(await emitCommand(opts, io)))

  cli
    .command('deliveries')
    .description('list deliveries from the state folder, newest first')
    .option('--state <dir>', 'state folder of hookwise run', './.hookwise')
    .option('--automation <[namespace/]name>', 'only this automation')
    .addOption(new Option('--status <status>', 'only this status').choices(['pending', 'succeeded', 'failed', 'cancelled']))
    .option('--limit <n>', 'at most this many', positive, 50)
    .option('--json', 'print JSON')
    .action((opts: { state: string; automation?: string; status?: DeliveryStatus; limit: number; json?: boolean }) => setStatus(deliveriesCommand(opts, io)))

  cli
    .command('delivery')
    .description('show one delivery and every attempt: headers (secrets masked), body, response')
    .argument('<id>', 'delivery id (the webhook-id header)')
    .option('--state <dir>', 'state folder of hookwise run', './.hookwise')
    .option('--json', 'print JSON')
    .action((id: string, opts: { state: string; json?: boolean }) => setStatus(deliveryCommand(id, opts, io)))

  cli
    .command('redeliver')
    .description('queue a finished delivery again, with the same webhook-id')
    .argument('<id>', 'delivery id')
    .option('--state <dir>', 'state folder of hookwise run', './.hookwise')
    .action((id: string, opts: { state: string }) => setStatus(redeliverCommand(id, opts, io)))

  cli
    .command('get')
    .description('list webhooks or automations with their status, from a running hookwise')
    .argument('<kind>', 'webhooks or automations')
    .option('--server <url>', 'hookwise API URL', 'http://127.0.0.1:8080')
    .option('--token-file <file>', 'bearer token (or HOOKWISE_INTAKE_TOKEN)')
    .option('--json', 'print JSON')
    .action(async (kind: string, opts: { server: string; tokenFile?: string; json?: boolean }) => setStatus(await getCommand(kind, opts, io)))

  cli
    .command('describe')
    .description('show the conditions, last delivery and errors of an automation or webhook')
    .argument('<kind>', 'automation or webhook')
    .argument('<name>', '[namespace/]name')
    .option('--server <url>', 'hookwise API URL', 'http://127.0.0.1:8080')
    .option('--token-file <file>', 'bearer token (or HOOKWISE_INTAKE_TOKEN)')
    .action(async (kind: string, name: string, opts: { server: string; tokenFile?: string }) => setStatus(await describeCommand(kind, name, opts, io)))

  cli
    .command('test')
    .description('send a one-off test payload with the webhook\'s credentials and print the answer (not recorded)')
    .argument('<kind>', 'webhook')
    .argument('<name>', '[namespace/]name')
    .requiredOption('--manifests <dir>', 'folder of manifests (repeatable)', collect)
    .option('--secrets <dir>', 'folder of Secret manifests (repeatable)', collect)
    .option('--payload <file|json>', 'JSON body to send: a file, - for standard input, or the JSON itself; with the webhook\'s secrets inserted where it says "${NAME}"; default: a small test object')
    .option('--allow-insecure-http', 'allow an http:// URL')
    .option('--egress-allow <cidr>', 'allow a private, loopback or link-local range (repeatable)', collect)
    .option('--json', 'print JSON')
    .action(async (kind: string, name: string, opts: TestWebhookOptions) => setStatus(await testWebhookCommand(kind, name, opts, io)))
}
