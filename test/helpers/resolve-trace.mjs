// Loaded with --import before a module graph is imported: writes `resolved URL` to stderr for every
// module resolved whose URL contains $RESOLVE_TRACE (test/lazy-kubernetes.test.ts).
import { register } from 'node:module'

const hook = `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  if (resolved.url.includes(${JSON.stringify(process.env.RESOLVE_TRACE ?? '')})) process.stderr.write('resolved ' + resolved.url + '\\n')
  return resolved
}`
register(`data:text/javascript,${encodeURIComponent(hook)}`)
