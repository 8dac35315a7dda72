// `hookwise run`: starts the controller (app/start-controller.ts) and runs it until SIGINT or SIGTERM.
import { InvalidArgumentError, Option, type Command } from 'commander'
import { startController, type RunningController, type RunOptions } from '../app/start-controller.js'
import { StandbyStopped } from '../errors.js'
import { createLogger } from '../log.js'
import type { CommandContext } from './command.js'
import type { CliIO } from './io.js'
import { collect, positive } from './options.js'

/**
 * Runs until SIGINT or SIGTERM; in-flight attempts finish (or stay pending) before exit. Exits 1
 * when leadership is lost (Kubernetes restarts the pod, which then waits as a standby).
 */
export async function runCommand(options: RunOptions, io: CliIO): Promise<number> {
  const log = createLogger({ level: options.logLevel })
  void io
  const abort = new AbortController()
  let lost: (reason: string) => void = () => {}
  const ended = new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down')
      abort.abort()
      resolve(0)
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
    lost = () => resolve(1)
  })
  let controller: RunningController
  try {
    controller = await startController(options, log, process.env, { signal: abort.signal, onLostLeadership: (reason) => lost(reason) })
  } catch (err) {
    if (err instanceof StandbyStopped) return 0
    throw err
  }
  const status = await ended
  await controller.stop()
  return status
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

export function register(cli: Command, { io, setStatus }: CommandContext): void {
  cli
    .command('run')
    .description(
      "run the controller on a folder, a git branch or the cluster's Webhooks and Automations: follow it, take events over HTTP, deliver durably",
    )
    .option(
      '--dir <dir>',
      'folder of Webhook and Automation manifests, watched for changes (repeatable; or --git or --kubernetes)',
      collect,
    )
    .option('--git <url>', 'follow a branch of this git repository instead of --dir (no credentials in the URL)')
    .option('--branch <branch>', 'branch to follow (--git; default: main)')
    .option('--path <dir>', 'folder of the manifests inside the repository (--git; default: its root)')
    .addOption(new Option('--interval <duration>', 'time between fetches, e.g. 30s, 5m, 1h (--git; default: 30s)').argParser(parseInterval))
    .option('--ssh-key-file <file>', 'private key for an ssh repository URL (--git)')
    .option('--token-file <file>', 'token for an https repository URL, sent as an HTTP Authorization header (--git)')
    .option('--kubernetes', 'reconcile the Webhook and Automation custom resources of the cluster instead of --dir or --git')
    .option('--namespace <ns>', 'watch only this namespace (repeatable; --kubernetes; default: all namespaces)', collect)
    .option('--kubeconfig <file>', "kubeconfig to use (--kubernetes; default: $KUBECONFIG, ~/.kube/config, or the pod's service account)")
    .addOption(
      new Option(
        '--tenancy <mode>',
        'namespace-label: a namespace only gets events of the entities in its hookwise.dev/entities annotation or label (--kubernetes)',
      ).choices(['none', 'namespace-label']),
    )
    .option('--no-leader-elect', 'do not take a Lease before working (--kubernetes; only with a single replica)')
    .option(
      '--lease-namespace <ns>',
      'namespace of the leader Lease (--kubernetes; default: $POD_NAMESPACE, the first --namespace, or default)',
    )
    .option('--lease-name <name>', 'name of the leader Lease (--kubernetes; default: hookwise-controller)')
    .addOption(
      new Option(
        '--lease-duration <duration>',
        'how long a standby waits for a silent leader before taking over, e.g. 15s (--kubernetes; default: 15s)',
      ).argParser(parseInterval),
    )
    .addOption(
      new Option(
        '--status-interval <duration>',
        'least time between two status writes of one object when only delivery facts changed (--kubernetes; default: 5s)',
      ).argParser(parseInterval),
    )
    .addOption(
      new Option(
        '--api-timeout <duration>',
        'how long a request to the Kubernetes API (not a watch) may take (--kubernetes; default: 30s)',
      ).argParser(parseInterval),
    )
    .option('--secrets <dir>', 'folder of Secret manifests (repeatable)', collect)
    .option('--state <dir>', 'folder of the delivery queue and history (SQLite)', './.hookwise')
    .option('--store <url>', 'keep the queue and history in PostgreSQL instead: postgres://USER@HOST/DB, no password (several replicas)')
    .option('--store-url-file <file>', 'file holding the PostgreSQL URL, password included (or HOOKWISE_STORE_URL)')
    .addOption(
      new Option(
        '--claim-lease <duration>',
        "how long a replica's claim on a due delivery holds; a dead replica's claims go to the others after it (PostgreSQL; default: 30s)",
      ).argParser(parseInterval),
    )
    .option('--listen <host:port>', 'address of the HTTP API (intake, status, metrics)', '127.0.0.1:8080')
    .option(
      '--intake-token-file <file>',
      'bearer tokens the API accepts, one per line (or HOOKWISE_INTAKE_TOKEN); without any, only loopback',
    )
    .option('--allow-insecure-http', 'allow http:// webhook URLs (default: https only)')
    .option('--egress-allow <cidr>', 'allow deliveries to addresses in this private, loopback or link-local range (repeatable)', collect)
    .addOption(
      new Option('--durability <mode>', 'normal survives crashes; full also survives power loss (slower)')
        .choices(['normal', 'full'])
        .default('normal'),
    )
    .option('--max-pending <n>', 'pending deliveries beyond which the intake answers 503', positive, 100_000)
    .option(
      '--max-pending-per-webhook <n>',
      'pending deliveries of one webhook beyond which the intake answers 503 to events matching its automations (default: half of --max-pending)',
      positive,
    )
    .option('--concurrency <n>', 'delivery attempts in flight in all (default 1024)', positive)
    .option(
      '--per-webhook-concurrency <n>',
      'most delivery attempts in flight per webhook; each adapts below this to its receiver (default: --concurrency)',
      positive,
    )
    .option('--connections-per-origin <n>', 'most connections open at once to one receiver origin (default 16)', positive)
    .option('--retry-max-attempts <n>', 'attempts per delivery for Webhooks without spec.retry, 1 to 20 (default 10)', retryMaxAttempts)
    .addOption(
      new Option(
        '--retry-max-backoff <duration>',
        'longest wait between attempts for Webhooks without spec.retry, at most 24h (default 12h)',
      ).argParser(retryMaxBackoff),
    )
    .option('--retention-hours <n>', 'how long finished deliveries and their attempts are kept', positive, 24 * 7)
    .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'))
    .action(async (opts: RunOptions) => setStatus(await runCommand(opts, io)))
}
