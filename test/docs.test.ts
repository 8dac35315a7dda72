// The documentation stays true: every hookwise command shown in README.md and docs/ names a command
// the CLI has and only options that command defines (asked of the CLI itself, through --help), every
// `npm run X` names a script of package.json, and every relative link leads to a file — and to a
// heading, when it names one — that exists.
import t from 'tap'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { hookwise } from './helpers/cli.js'
import { commandLines, headingAnchors, hookwiseInvocations, links } from './helpers/markdown.js'

const root = resolve(import.meta.dirname, '..')
const scripts = new Set(
  Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts),
)

/** What the command line offers, read from its help. */
class CliSurface {
  private readonly options = new Map<string, Promise<Set<string>>>()
  private commands: Promise<Set<string>> | undefined

  /** The subcommands `hookwise --help` lists. */
  subcommands(): Promise<Set<string>> {
    this.commands ??= this.commandsOf([])
    return this.commands
  }

  /** The commands `hookwise ...path --help` lists (`hookwise sources` has its own). */
  commandsOf(path: string[]): Promise<Set<string>> {
    return hookwise([...path, '--help']).then((run) => {
      const section = run.stdout.split(/^Commands:$/m)[1] ?? ''
      return new Set([...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help'))
    })
  }

  /** The options `hookwise [SUB [SUBSUB]] --help` lists (the wrapped lines of a description are indented further). */
  optionsOf(sub: string | undefined, subsub?: string): Promise<Set<string>> {
    const key = [sub ?? '', subsub ?? ''].join(' ')
    let options = this.options.get(key)
    if (!options) {
      options = hookwise([...(sub ? [sub] : []), ...(subsub ? [subsub] : []), '--help']).then((run) => {
        const section = run.stdout.split(/^Options:$/m)[1]?.split(/^\S/m)[0] ?? ''
        return new Set([...section.matchAll(/^ {2}(?:-[A-Za-z], )?(--[A-Za-z0-9][\w-]*)/gm)].map((m) => m[1]!))
      })
      this.options.set(key, options)
    }
    return options
  }
}

const cli = new CliSurface()

async function checkInvocation(args: string[]): Promise<string[]> {
  const at = args.findIndex((a) => !/^[-[]/.test(a))
  const sub = at === -1 ? undefined : args[at]
  const flags = args.flatMap((a) => {
    const m = /^\[*(--[A-Za-z0-9][\w-]*)/.exec(a)
    return m ? [m[1]!] : []
  })
  const name = sub ? `hookwise ${sub}` : 'hookwise'
  let known: Set<string>
  if (sub === undefined) known = await cli.optionsOf(undefined)
  else if (/^[A-Z][A-Z_]*$/.test(sub))
    known = new Set(['--help']) // a placeholder: any command, so only what all have
  else if ((await cli.subcommands()).has(sub)) {
    // A command with commands of its own (hookwise sources wandb-template): the options are the inner one's.
    const inner = args.slice(at + 1).find((a) => !/^[-[]/.test(a))
    const nested = inner !== undefined && (await cli.commandsOf([sub])).has(inner)
    known = await cli.optionsOf(sub, nested ? inner : undefined)
  } else return [`${name}: no such command (hookwise --help lists them)`]
  return flags.filter((f) => !known.has(f)).map((f) => `${name}: no option ${f} (${name} --help lists its options)`)
}

/** Every problem of one document, as `FILE:LINE: what is wrong`; `file` is relative to the repository root. */
async function checkDoc(file: string, text: string): Promise<string[]> {
  const problems: string[] = []
  for (const command of commandLines(text)) {
    for (const args of hookwiseInvocations(command.text)) {
      for (const problem of await checkInvocation(args)) problems.push(`${file}:${command.line}: ${problem}`)
    }
  }
  text.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/\bnpm (?:run ([\w:.-]+)|(start|test)\b)/g)) {
      const script = m[1] ?? m[2]!
      if (!scripts.has(script)) problems.push(`${file}:${i + 1}: npm run ${script}: no such script in package.json`)
    }
  })
  for (const link of links(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link.text)) continue // https:, mailto:
    const [path = '', anchor] = link.text.split('#')
    if (path === '') {
      if (!headingAnchors(text).has(anchor ?? ''))
        problems.push(`${file}:${link.line}: link to ${link.text}: ${file} has no heading #${anchor}`)
      continue
    }
    const target = resolve(root, dirname(file), decodeURIComponent(path))
    const shown = relative(root, target)
    if (!existsSync(target)) {
      problems.push(`${file}:${link.line}: link to ${link.text}: ${shown} does not exist`)
    } else if (anchor !== undefined && statSync(target).isFile() && target.endsWith('.md')) {
      if (!headingAnchors(readFileSync(target, 'utf8')).has(anchor))
        problems.push(`${file}:${link.line}: link to ${link.text}: ${shown} has no heading #${anchor}`)
    }
  }
  return problems
}

const docs = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
]

t.test('README.md and docs/ show only commands, options, scripts and links that exist', async (t) => {
  for (const file of docs) {
    t.same(await checkDoc(file, readFileSync(join(root, file), 'utf8')), [], file)
  }
})

t.test('the check finds commands in sh and console blocks and in inline code', async (t) => {
  const readme = commandLines(readFileSync(join(root, 'README.md'), 'utf8')).map((c) => c.text)
  t.ok(readme.includes('npx hookwise validate examples'), 'a console block, after the prompt')
  t.ok(
    readme.some(
      (c) => c.startsWith('npx hookwise render --manifests examples --secrets examples/secrets') && c.endsWith('--timestamp 1764241200'),
    ),
    'a console command continued with a backslash',
  )
  t.ok(readme.includes('hookwise plan --base REF'), 'inline code in the table of commands')
  const running = commandLines(readFileSync(join(root, 'docs/running.md'), 'utf8')).map((c) => c.text)
  t.ok(
    running.some((c) => c.startsWith('hookwise run --dir DIR') && c.endsWith('[--log-level info]')),
    'a synopsis continued on indented lines',
  )
  t.same(hookwiseInvocations('npm ci && HOOKWISE_URL=x npx hookwise listen --port 0 & kubectl get pods | grep x'), [
    ['listen', '--port', '0'],
  ])
  t.same(hookwiseInvocations('hookwise run --dir DIR | --git URL [--ssh-key-file F | --token-file F] # a synopsis'), [
    ['run', '--dir', 'DIR', '|', '--git', 'URL', '[--ssh-key-file', 'F', '|', '--token-file', 'F]'],
  ])
})

t.test('a doc that names a missing option, command, script, file or heading fails the check', async (t) => {
  const example = [
    '# Example',
    '',
    '```sh',
    'npx hookwise run --dir examples --no-such-flag \\',
    '  --state /tmp/state --secret-dir x',
    'hookwise frobnicate --dir x',
    'npm run no-such-script',
    'hookwise match --manifests DIR --event FILE',
    '               [--format text|json] [--output FILE]',
    '```',
    '',
    '```console',
    '$ hookwise validate examples --format json',
    'hookwise printed --this-is-output, not a command',
    '```',
    '',
    'Use `hookwise deliveries --failed` or `hookwise COMMAND --verbose`; see [errors](errors.md#hw_usage-typo),',
    '[nothing](no-such-file.md), [here](#example) and [there](#elsewhere).',
  ].join('\n')
  t.same(await checkDoc('docs/example.md', example), [
    'docs/example.md:4: hookwise run: no option --no-such-flag (hookwise run --help lists its options)',
    'docs/example.md:4: hookwise run: no option --secret-dir (hookwise run --help lists its options)',
    'docs/example.md:6: hookwise frobnicate: no such command (hookwise --help lists them)',
    'docs/example.md:8: hookwise match: no option --output (hookwise match --help lists its options)',
    'docs/example.md:17: hookwise deliveries: no option --failed (hookwise deliveries --help lists its options)',
    'docs/example.md:17: hookwise COMMAND: no option --verbose (hookwise COMMAND --help lists its options)',
    'docs/example.md:7: npm run no-such-script: no such script in package.json',
    'docs/example.md:17: link to errors.md#hw_usage-typo: docs/errors.md has no heading #hw_usage-typo',
    'docs/example.md:18: link to no-such-file.md: docs/no-such-file.md does not exist',
    'docs/example.md:18: link to #elsewhere: docs/example.md has no heading #elsewhere',
  ])
})

t.test('the same doc with the options, script and links corrected passes', async (t) => {
  const example = [
    '# Example',
    '',
    '```sh',
    'npx hookwise run --dir examples --allow-insecure-http \\',
    '  --state /tmp/state --secrets x',
    'npm run k8s:up',
    '```',
    '',
    'Use `hookwise deliveries --status failed` or `hookwise COMMAND --help`; see [errors](errors.md#error-codes),',
    '[the README](../README.md#two-commands) and [here](#example).',
  ].join('\n')
  t.same(await checkDoc('docs/example.md', example), [])
})
