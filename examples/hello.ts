/**
 * A first Baton flow: tasks called directly, submitted and mapped, a task that fails on its
 * first attempt and succeeds on its retry, a run logger, and captured console output.
 *
 *   npx tsx examples/hello.ts [count]
 *
 * With no BATON_API_URL set it starts a temporary server on $BATON_HOME/baton.db (default
 * ~/.baton) for the length of the script; start `baton server start` afterwards to see the runs.
 */
import { flow, getRunContext, getRunLogger, task } from "@baton/sdk";

/** Fails on its first attempt (run_count 1), on purpose and every time, then succeeds on the retry. */
const fetchNumbers = task({ name: "fetch-numbers", retries: 2, retryDelaySeconds: 1 }, function fetchNumbers(count: number) {
  const attempt = getRunContext().taskRun?.run_count ?? 1;
  if (attempt === 1) {
    throw new Error("the upstream service is warming up (attempt 1 always fails)");
  }
  getRunLogger().info("fetched %d numbers on attempt %d", count, attempt);
  return Array.from({ length: count }, (_, i) => i + 1);
});

const square = task(function square(n: number) {
  return n * n;
});

const total = task(function total(values: number[]) {
  return values.reduce((sum, v) => sum + v, 0);
});

const describe = task(function describe(sum: number, count: number) {
  return `the squares of 1..${count} add up to ${sum}`;
});

const hello = flow({ name: "hello", logPrints: true }, async function hello(count: number) {
  const logger = getRunLogger();
  logger.info("squaring %d numbers", count);

  const numbers = await fetchNumbers(count);
  const squares = await Promise.all(square.map(numbers).map((future) => future.result()));
  const sum = total.submit(squares);
  const sentence = await describe.submit(sum, count).result();

  console.log(sentence); // printed, and recorded as a log of the flow run (logPrints)
  return { numbers, squares, sum: await sum.result(), sentence };
});

const requested = Number(process.argv[2] ?? 5);
const outcome = await hello.run(requested);
console.log(`flow run id: ${outcome.flowRun.id}`);
console.log(`final state: ${outcome.state.type}`);
if (outcome.ok) {
  console.log(`result: ${JSON.stringify(outcome.result)}`);
} else {
  console.error(outcome.error);
  process.exitCode = 1;
}
