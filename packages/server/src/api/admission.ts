/**
 * When a request's handler starts. The server is one thread: under a burst (1,000 flow runs
 * created and started at once) hundreds of requests are readable together, and node runs
 * each one's handler, database work included, as it reads it, so a request read last waited
 * for every handler before it: a slot acquisition waited 100-500 ms behind run creations and
 * state proposals, although deciding it takes well under a millisecond.
 *
 * Here the requests that take and give back concurrency slots (`admitAtOnce` routes) run as
 * soon as they are read, and every other request waits its turn: one starts per turn of the
 * event loop, after the loop has read whatever else arrived (setImmediate runs after the poll
 * phase). A slot request then waits for at most one other handler plus the reading of the
 * requests that arrived with it. Nothing is starved: each turn of the loop starts the oldest
 * waiting request, whatever slot requests keep arriving, and waiting costs a request one turn
 * of the loop when the server is not busy.
 */
export class Admission {
  private readonly waiting: Array<() => void> = [];
  private scheduled = false;

  /** Resolves when it is this request's turn to run its handler. */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Requests waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.next);
  }

  private readonly next = (): void => {
    this.scheduled = false;
    const resolve = this.waiting.shift();
    if (this.waiting.length > 0) this.schedule();
    resolve?.();
  };
}
