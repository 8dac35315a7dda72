// The workload of issue 22, written as YAML files: 100 Webhooks in one file and N Automations spread
// over 10 files (more at 100k, so no file passes the 4 MiB a manifest may have). Each Automation has a
// Collection scope, an alias regex, a metadata filter and a 4-field payload, as a platform team with
// many teams would write them. `editAutomation` changes one line of one file, as a user's edit does.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const WEBHOOKS = 100
/** Automations per file at most: 10k in 10 files is ~400 KB each; 100k needs 25 files of ~1.6 MB. */
const MAX_PER_FILE = 4_000

export function webhookYaml(i: number): string {
  return `---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata:
  name: hook-${i}
  namespace: team-${i}
spec:
  url: https://hooks.example.com/team-${i}/deploy
`
}

/** Automation `i`; `variant` changes its alias regex (an edit). */
export function automationYaml(i: number, variant = 0): string {
  const team = i % WEBHOOKS
  return `---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata:
  name: deploy-${i}
  namespace: team-${team}
spec:
  scope:
    type: Collection
    registry: model
    collection: churn-${i}
  event:
    type: ADD_ARTIFACT_ALIAS
    aliasRegex: ^(production|canary-${variant})$
    metadata:
      - key: accuracy
        op: gte
        value: "0.9"
  action:
    webhook: hook-${team}
    payload:
      event_type: BUILD_AND_DEPLOY
      version: \${artifact_version_string}
      author: \${event_author}
      accuracy: \${json:artifact_metadata.accuracy}
`
}

export interface Workload {
  dir: string
  files: string[]
  /** The file that holds Automation `i`. */
  fileOf(i: number): string
  bytes: number
}

export function automationFiles(n: number): number {
  return Math.max(10, Math.ceil(n / MAX_PER_FILE))
}

/** Writes the workload for `n` Automations into `dir` (created). */
export function writeWorkload(dir: string, n: number): Workload {
  mkdirSync(dir, { recursive: true })
  const fileCount = automationFiles(n)
  const files = [join(dir, 'webhooks.yaml')]
  let bytes = 0
  const hooks = Array.from({ length: WEBHOOKS }, (_, i) => webhookYaml(i)).join('')
  writeFileSync(files[0]!, hooks)
  bytes += hooks.length
  const perFile = Math.ceil(n / fileCount)
  for (let f = 0; f < fileCount; f++) {
    const parts: string[] = []
    for (let i = f * perFile; i < Math.min(n, (f + 1) * perFile); i++) parts.push(automationYaml(i))
    const file = join(dir, `automations-${String(f).padStart(3, '0')}.yaml`)
    const text = parts.join('')
    writeFileSync(file, text)
    bytes += text.length
    files.push(file)
  }
  return { dir, files, bytes, fileOf: (i) => files[1 + Math.floor(i / perFile)]! }
}

/** Edits one line of Automation `i` (its alias regex) in place; `variant` makes each edit distinct. */
export function editAutomation(w: Workload, i: number, variant: number): void {
  const file = w.fileOf(i)
  const text = readFileSync(file, 'utf8')
  const start = text.indexOf(`  name: deploy-${i}\n`)
  const at = text.indexOf('aliasRegex: ', start)
  const end = text.indexOf('\n', at)
  writeFileSync(file, `${text.slice(0, at)}aliasRegex: ^(production|canary-${variant})$${text.slice(end)}`)
}
