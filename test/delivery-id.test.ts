// Delivery ids: their format, their order (the outbox's indexes grow at one end) and uniqueness.
import t from 'tap'
import { deliveryId } from '../controller/delivery/delivery-id.js'

t.test('msg_, the time in ms as 12 hex digits, 20 random hex digits', async (t) => {
  const now = Date.UTC(2026, 10, 29, 9, 30)
  const id = deliveryId(now)
  t.match(id, /^msg_[0-9a-f]{32}$/)
  t.equal(id.slice(4, 16), now.toString(16).padStart(12, '0'))
  t.equal(deliveryId(0).slice(0, 16), 'msg_000000000000')
  t.equal(deliveryId(-5).slice(0, 16), 'msg_000000000000', 'a time before 1970 counts as 0')
  t.equal(deliveryId(1.9).slice(0, 16), 'msg_000000000001', 'fractions of a ms are dropped')
  t.equal(deliveryId(2 ** 48 - 1).slice(0, 16), 'msg_ffffffffffff')
})

t.test('ids made later sort later; 100,000 ids made in the same ms are distinct', async (t) => {
  const ids = [deliveryId(1_000), deliveryId(1_001), deliveryId(16 ** 5), deliveryId(Date.now())]
  t.same([...ids].sort(), ids)
  const now = Date.now()
  const many = new Set<string>()
  for (let i = 0; i < 100_000; i++) many.add(deliveryId(now))
  t.equal(many.size, 100_000)
  // The random part uses all 16 digits: about 1/16 of 2,000,000 random digits each.
  const counts = new Map<string, number>()
  for (const id of many) for (const c of id.slice(16)) counts.set(c, (counts.get(c) ?? 0) + 1)
  t.equal(counts.size, 16)
  for (const [digit, n] of counts) t.ok(n > 115_000 && n < 135_000, `digit ${digit}: ${n}`)
})
