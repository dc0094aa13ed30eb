/**
 * Logs the first failure at once, then at most one line per `everyMs` with how many failures
 * there were since the last line: a checkpoint failing every 250 ms must not flood the log.
 */
export class ThrottledLog {
  private count = 0;
  private last = "";
  private loggedAt: number | undefined;

  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  record(message: string, log: (count: number, last: string) => void): void {
    this.count++;
    this.last = message;
    const now = this.now();
    if (this.loggedAt !== undefined && now - this.loggedAt < this.everyMs) return;
    this.loggedAt = now;
    this.flush(log);
  }

  /** Logs the failures not yet logged, if any (on stop, so none go unreported). */
  flush(log: (count: number, last: string) => void): void {
    if (this.count === 0) return;
    log(this.count, this.last);
    this.count = 0;
  }
}
