// Reads the parts of a Markdown document that the documentation check tests: the commands shown in
// shell code blocks and inline code, the relative links, and the anchors of the headings.

const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'zsh', 'console'])

export interface Located {
  text: string
  /** 1-based line of the document where it starts. */
  line: number
}

interface CodeBlock {
  lang: string
  /** The lines between the fences. */
  lines: string[]
  /** 1-based line of the document of lines[0]. */
  firstLine: number
}

function fencedBlocks(doc: string): { blocks: CodeBlock[]; prose: string } {
  const blocks: CodeBlock[] = []
  const prose: string[] = []
  let open: { fence: string; block: CodeBlock } | undefined
  doc.split('\n').forEach((line, i) => {
    const fence = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(line)
    if (open) {
      if (fence && fence[1]!.startsWith(open.fence)) open = undefined
      else open.block.lines.push(line)
      prose.push('') // keep line numbers of the prose those of the document
    } else if (fence) {
      open = { fence: fence[1]!, block: { lang: fence[2]!.toLowerCase(), lines: [], firstLine: i + 2 } }
      blocks.push(open.block)
      prose.push('')
    } else {
      prose.push(line)
    }
  })
  return { blocks, prose: prose.join('\n') }
}

/** The commands of the shell code blocks: in `console` blocks the lines after a `$ ` prompt, in the
 * others every line; a line ending in a backslash continues on the next, and so does an indented line
 * of options (a synopsis); heredoc bodies are skipped. */
function shellCommands(block: CodeBlock): Located[] {
  const commands: Located[] = []
  const prompted = block.lang === 'console'
  let heredoc: string | undefined
  let current: Located | undefined
  block.lines.forEach((raw, i) => {
    if (heredoc !== undefined) {
      if (raw.trim() === heredoc) heredoc = undefined
      return
    }
    let line = raw
    if (!current && !prompted && commands.length > 0 && /^\s+[-[]/.test(raw)) {
      // an indented line of options continues a synopsis: `hookwise run --dir DIR ...` then `    [--state DIR]`
      commands[commands.length - 1]!.text += ` ${raw.trim()}`
      return
    }
    if (!current) {
      if (prompted) {
        const prompt = /^\s*\$ (.*)$/.exec(raw)
        if (!prompt) return // output
        line = prompt[1]!
      }
      current = { text: '', line: block.firstLine + i }
    }
    const continues = /\\\s*$/.test(line)
    current.text += `${line.replace(/\\\s*$/, '')} `
    if (!continues) {
      commands.push({ text: current.text.trim(), line: current.line })
      const here = /<<-?\s*['"]?(\w+)['"]?/.exec(current.text)
      if (here) heredoc = here[1]
      current = undefined
    }
  })
  if (current) commands.push({ text: current.text.trim(), line: current.line })
  return commands
}

/** Splits a command line into words and the operators between commands (&&, ||, ;, |, &). Quotes
 * group words; `#` at the start of a word begins a comment. A `|` counts as a pipe only when it
 * stands alone and is not followed by an option, so a synopsis like `--dir DIR | --git URL` is one
 * command. */
function shellWords(line: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: string | undefined
  const end = (): void => {
    if (inWord) words.push(word)
    word = ''
    inWord = false
  }
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quote) {
      if (c === quote) quote = undefined
      else word += c
      continue
    }
    if (c === "'" || c === '"') {
      quote = c
      inWord = true
    } else if (/\s/.test(c)) {
      end()
    } else if (c === '#' && !inWord) {
      break
    } else if (c === ';' || (c === '&' && line[i + 1] === '&')) {
      end()
      words.push(c === ';' ? ';' : '&&')
      if (c === '&') i++
    } else {
      word += c
      inWord = true
    }
  }
  end()
  return words
}

const OPERATORS = new Set(['&&', '||', ';', '&'])

/** The arguments after `hookwise` (or `npx hookwise`, or `node .../cli/main.js`) of each hookwise
 * command in a shell line, with environment assignments before the command skipped. */
export function hookwiseInvocations(line: string): string[][] {
  const words = shellWords(line)
  const segments: string[][] = [[]]
  words.forEach((w, i) => {
    const next = words[i + 1]
    if (OPERATORS.has(w) || (w === '|' && !(next !== undefined && /^[-[]/.test(next)))) segments.push([])
    else segments[segments.length - 1]!.push(w)
  })
  const invocations: string[][] = []
  for (const segment of segments) {
    let i = 0
    while (i < segment.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(segment[i]!)) i++
    const program = segment.slice(i)
    if (program[0] === 'hookwise') invocations.push(program.slice(1))
    else if (program[0] === 'npx' && program[1] === 'hookwise') invocations.push(program.slice(2))
    else if (program[0] === 'node') {
      const main = program.findIndex((w) => w.endsWith('controller/cli/main.js'))
      if (main > 0) invocations.push(program.slice(main + 1))
    }
  }
  return invocations
}

/** Every command line shown in a shell code block, and every inline code span that starts with a
 * hookwise command. */
export function commandLines(doc: string): Located[] {
  const { blocks, prose } = fencedBlocks(doc)
  const lines = blocks.filter((b) => SHELL_LANGUAGES.has(b.lang)).flatMap(shellCommands)
  for (const span of inlineCode(prose)) {
    if (/^(npx )?hookwise /.test(span.text)) lines.push(span)
  }
  return lines.sort((a, b) => a.line - b.line)
}

function inlineCode(prose: string): Located[] {
  const spans: Located[] = []
  for (const m of prose.matchAll(/(`+)([^`]+?)\1/g)) {
    const line = prose.slice(0, m.index).split('\n').length
    // A `|` escaped for a table cell is a plain `|` in the command.
    spans.push({ text: m[2]!.replace(/\s+/g, ' ').replace(/\\\|/g, '|').trim(), line })
  }
  return spans
}

/** The target of every Markdown link outside code, with a scheme (https:, mailto:) or without. */
export function links(doc: string): Located[] {
  const prose = fencedBlocks(doc).prose.replace(/(`+)[^`]+?\1/g, (span) => span.replace(/[^\n]/g, ' '))
  const found: Located[] = []
  for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    found.push({ text: m[1]!, line: prose.slice(0, m.index).split('\n').length })
  }
  return found
}

/** The anchors GitHub gives the headings of a document: lower case, punctuation dropped, each space
 * a hyphen, and -1, -2... after a repeated one. */
export function headingAnchors(doc: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of fencedBlocks(doc).prose.split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}
