// Time and the server's single timer queue. Every deadline (user timers, activity and workflow-task
// timeouts, retry back-offs, run timeouts) is an entry here; the durable record of each is the
// mutable state it belongs to, so after a restart the engine re-arms them from that state.

export interface TimerEntry {
  at: number;
  seq: number;
  fire: () => void;
}

/** Min-heap of timer entries ordered by due time, then insertion order. */
class TimerHeap {
  private items: TimerEntry[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): TimerEntry | undefined {
    return this.items[0];
  }
  push(e: TimerEntry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): TimerEntry | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l], a[m])) m = l;
        if (r < a.length && less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function less(x: TimerEntry, y: TimerEntry): boolean {
  return x.at < y.at || (x.at === y.at && x.seq < y.seq);
}

/**
 * The server clock. `now()` is wall time plus a skew that time skipping advances; timers fire in
 * due order from one Node timeout armed for the earliest entry.
 */
export class Clock {
  private heap = new TimerHeap();
  private seq = 0;
  private handle: NodeJS.Timeout | undefined;
  private armedFor = Infinity;
  private skew = 0;
  private stopped = false;

  now(): number {
    return Date.now() + this.skew;
  }

  /** Schedule `fire` at absolute server time `at`. Entries are never removed: handlers check validity. */
  schedule(at: number, fire: () => void): void {
    this.heap.push({ at, seq: this.seq++, fire });
    if (at < this.armedFor) this.arm();
  }

  /** Due time of the earliest pending timer (Infinity when none). */
  nextDue(): number {
    return this.heap.peek()?.at ?? Infinity;
  }

  /** Move server time forward (time skipping). Due timers fire on the next tick. */
  advance(ms: number): void {
    if (ms <= 0) return;
    this.skew += ms;
    this.arm();
  }

  /**
   * Time skipping: move server time forward to `at` (never backward) and fire every timer due by
   * then, in due order, before returning. Wall time keeps flowing on top of the new skew.
   */
  skipTo(at: number): void {
    if (this.stopped) return;
    const now = this.now();
    if (at > now) this.skew += at - now;
    if (this.handle) clearTimeout(this.handle);
    this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.handle) clearTimeout(this.handle);
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.handle) clearTimeout(this.handle);
    const next = this.heap.peek();
    if (!next) {
      this.armedFor = Infinity;
      this.handle = undefined;
      return;
    }
    this.armedFor = next.at;
    // setTimeout caps at ~24.8 days; longer waits re-arm on wake-up.
    const delay = Math.min(Math.max(0, next.at - this.now()), 2 ** 31 - 1);
    this.handle = setTimeout(() => this.run(), delay);
  }

  private run(): void {
    this.handle = undefined;
    this.armedFor = Infinity;
    const now = this.now();
    for (let e = this.heap.peek(); e && e.at <= now; e = this.heap.peek()) {
      this.heap.pop();
      try {
        e.fire();
      } catch (err) {
        process.emitWarning(`timer handler failed: ${(err as Error).stack ?? err}`);
      }
    }
    this.arm();
  }
}
