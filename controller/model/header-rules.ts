// What HTTP lets a header be, shared by validation (which refuses a Webhook's spec.headers that
// could never be sent) and the sender (which checks every built request before any byte leaves).
// The rules are undici's: a name is an HTTP token; a value holds only HTAB, visible ASCII, space and
// 0x80-0xFF (no CR, LF, NUL, other control characters or anything above U+00FF).

/** An HTTP token (RFC 9110 5.6.2). */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** The first character a header value may not hold. */
export const NOT_IN_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/

/**
 * Hop-by-hop and framing headers (RFC 9110 7.6.1, 6.1): HTTP sets them for each connection and
 * message, so a static value would break the request or be dropped. Lower case.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]
