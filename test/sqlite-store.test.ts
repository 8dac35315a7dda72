// SqliteStore keeps the Store's contract (test/helpers/store-conformance.ts), on real files in a
// temporary folder: as the CLI opens it, and as `hookwise run` does (WAL checkpoints from a worker).
import t from 'tap'
import { SqliteStore } from '../controller/delivery/sqlite-store.js'
import { storeConformance } from './helpers/store-conformance.js'

void storeConformance(t, 'SqliteStore', async (dir) => new SqliteStore(dir))
void storeConformance(
  t,
  'SqliteStore with its checkpointing worker and full durability',
  async (dir) => new SqliteStore(dir, { checkpointIntervalMs: 1000, durability: 'full' }),
)
