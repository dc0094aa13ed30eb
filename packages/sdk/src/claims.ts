/**
 * How many claims (PENDING proposals) a poller has in flight at once. Claiming one run after
 * another made a poller's throughput one round trip per run (about 35 runs/s for `serve()`
 * against a busy server); a few at once keep up with arrivals of 70/s and more while leaving
 * the server room for the runs' own requests.
 */
export const CLAIM_CONCURRENCY = 16;

/**
 * Claims `candidates` in order, up to `CLAIM_CONCURRENCY` at a time, while `hasRoom()` says
 * there is room for one more run beyond the claims in flight, and hands each run won to
 * `onClaimed`. `claim` resolves with the claimed run, or undefined when another claimant
 * has it; a claim that throws is passed to `onError` and does not stop the others.
 */
export async function claimInOrder<R, C>(
  candidates: readonly R[],
  options: {
    hasRoom(inFlight: number): boolean;
    claim(run: R): Promise<C | undefined>;
    onClaimed(claimed: C): void;
    onError(run: R, error: unknown): void;
  },
): Promise<void> {
  let next = 0;
  let inFlight = 0;
  const lane = async (): Promise<void> => {
    while (next < candidates.length && options.hasRoom(inFlight)) {
      const run = candidates[next++]!;
      inFlight++;
      try {
        const claimed = await options.claim(run);
        if (claimed !== undefined) options.onClaimed(claimed);
      } catch (error) {
        options.onError(run, error);
      } finally {
        inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CLAIM_CONCURRENCY, candidates.length) }, lane));
}
