// Delivery ids (the webhook-id header): `msg_`, the time in ms as 12 hex digits, then 20 random hex
// digits. Ids made later sort later, so the outbox's primary-key index (and the attempts' index)
// grow at one end: a commit of many deliveries writes a few index pages, not one random page each.
import { randomFillSync } from 'node:crypto'

const HEX = Buffer.from('0123456789abcdef', 'latin1')
const PREFIX = 'msg_'
const TIME_DIGITS = 12
const RANDOM_BYTES = 10
/** The id's characters are written here and read out once: one string per id, made for every delivery. */
const text = Buffer.alloc(PREFIX.length + TIME_DIGITS + 2 * RANDOM_BYTES)
text.write(PREFIX, 'latin1')
/** Random bytes filled in bulk, RANDOM_BYTES per id. */
const random = Buffer.alloc(RANDOM_BYTES * 512)
let randomAt = random.length

export function deliveryId(now: number): string {
  if (randomAt + RANDOM_BYTES > random.length) {
    randomFillSync(random)
    randomAt = 0
  }
  let time = Math.max(0, Math.floor(now))
  for (let i = PREFIX.length + TIME_DIGITS - 1; i >= PREFIX.length; i--) {
    text[i] = HEX[time % 16]!
    time = Math.floor(time / 16)
  }
  for (let i = PREFIX.length + TIME_DIGITS; i < text.length; i += 2) {
    const b = random[randomAt++]!
    text[i] = HEX[b >> 4]!
    text[i + 1] = HEX[b & 15]!
  }
  return text.toString('latin1')
}
