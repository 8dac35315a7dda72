// The dashboard's delivery list pages through a real SQLite store (page size 2 here), with the
// filters kept in the Newer/Older links; and without intake tokens it needs no login.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { Dashboard } from '../controller/server/dashboard.js'

const store = new SqliteStore(t.testdir({}))
t.teardown(() => store.close())
const T0 = Date.parse('2026-12-03T10:00:00Z')
for (let i = 0; i < 5; i++)
  store.write(
    {
      items: [{ eventId: `e-${i}`, body: '{}', deliveries: [{ id: `d-${i}`, automation: 'default/a', webhook: 'default/w' }] }],
      now: T0 + i * 60_000,
      dedupSince: 0,
    },
    [],
  )
const dashboard = new Dashboard({
  store,
  tokens: [],
  status: () => ({ webhooks: [], automations: [], errors: [] }),
  redelivered: () => {},
  pageSize: 2,
})
const server = createServer((req, res) => void dashboard.handle(req, res, new URL(req.url ?? '/', 'http://x')))
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
t.teardown(() => server.close())
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
const get = async (path: string) => (await fetch(`${base}${path}`, { redirect: 'manual' })).text()
const ids = (html: string) => [...html.matchAll(/<th scope="row"><a href="\/ui\/deliveries\/([^"]+)">/g)].map((m) => m[1])

t.test('pages of two, newest first, with links that keep the filters', async (t) => {
  const first = await get('/ui/deliveries?automation=default%2Fa')
  t.same(ids(first), ['d-4', 'd-3'])
  t.notMatch(first, 'rel="prev"')
  t.match(first, '<a href="/ui/deliveries?automation=default%2Fa&amp;page=2" rel="next">Older</a>')
  const second = await get('/ui/deliveries?automation=default%2Fa&page=2')
  t.same(ids(second), ['d-2', 'd-1'])
  t.match(second, 'rel="prev">Newer</a>')
  const last = await get('/ui/deliveries?automation=default%2Fa&page=3')
  t.same(ids(last), ['d-0'])
  t.notMatch(last, 'rel="next"', 'no Older link on the last page')
  t.same(ids(await get('/ui/deliveries?since=2026-12-03T10:01&until=2026-12-03T10:03')), ['d-2', 'd-1'])
})

t.test('without intake tokens there is no login', async (t) => {
  const login = await fetch(`${base}/ui/login`, { redirect: 'manual' })
  t.equal(login.status, 303)
  t.equal(login.headers.get('location'), '/ui')
  t.equal((await fetch(`${base}/ui/deliveries`, { redirect: 'manual' })).status, 200)
})
