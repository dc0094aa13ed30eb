/**
 * Persisted results, a cache that outlives the process, and an idempotent transaction.
 *
 *   npx tsx examples/results-and-caching.ts 2026-01-01     # first run: every task runs
 *   npx tsx examples/results-and-caching.ts 2026-01-01     # again: "Cached", nothing runs
 *   npx tsx examples/results-and-caching.ts 2026-01-02     # another day: the transaction runs, the cached fetch does not
 *
 * Records go to $BATON_LOCAL_STORAGE_PATH (default ~/.baton/storage). Point several machines
 * at one folder, or set BATON_RESULTS_S3_BUCKET (with BATON_RESULTS_S3_ENDPOINT_URL for MinIO
 * and the like), and they share the cache.
 */
import { CachePolicies, flow, getRunLogger, task, transaction } from "@baton/sdk";

/** Cached by its argument and its code for an hour, across processes. */
const fetchRates = task(
  { name: "fetch-rates", cachePolicy: [CachePolicies.INPUTS, CachePolicies.TASK_SOURCE], cacheExpiration: 3600 },
  function fetchRates(currency: string) {
    getRunLogger().info("fetching %s rates (not cached)", currency);
    return { currency, rates: { EUR: 1, USD: 1.08, GBP: 0.86 }, fetchedAt: new Date().toISOString() };
  },
);

const writeReport = task(
  {
    name: "write-report",
    onCommit: ({ result }) => console.log(`committed: ${String(result)}`),
    onRollback: ({ result }) => console.log(`rolled back: ${String(result)}`),
  },
  function writeReport(day: string, rates: { rates: Record<string, number> }) {
    getRunLogger().info("writing the report for %s", day);
    return `report-${day}: ${Object.keys(rates.rates).length} rates`;
  },
);

const daily = flow({ name: "daily-rates", persistResult: true }, async function daily(day: string) {
  const rates = await fetchRates("EUR");
  // At most once per day: a second run finds the day's committed record and reuses its results.
  return transaction({ key: `daily-rates-${day}` }, async (txn) => {
    if (txn.isCommitted()) getRunLogger().info("%s was done already; returning its stored report", day);
    return writeReport(day, rates);
  });
});

console.log(await daily(process.argv[2] ?? new Date().toISOString().slice(0, 10)));
