// Whether a presented secret is one of the intake tokens, compared in constant time.
import { timingSafeEqual } from 'node:crypto'

export function isIntakeToken(given: string, tokens: readonly string[]): boolean {
  const g = Buffer.from(given)
  return tokens.some((t) => {
    const want = Buffer.from(t)
    return want.length === g.length && timingSafeEqual(want, g)
  })
}
