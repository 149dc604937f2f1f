// Time skipping, as the Temporal test server does it: while nobody holds the time-skipping lock and
// no work is outstanding (no workflow task or activity task queued or running anywhere), server time
// jumps straight to the next thing that is waiting for time (a user timer, a retry back-off, a
// delayed start, a run timeout, a TestService sleep) and fires it. Otherwise time is wall time.
//
// "Outstanding" and "waiting" are read from the open executions' mutable state rather than counted,
// so they cannot drift out of balance. Timeouts of queued or running tasks never cause a skip: a task
// in flight blocks skipping altogether (like the Java test server, where a task holds the lock).
import type { Clock } from './clock';
import type { Engine } from './history/engine';

/** How often the skipper looks again while unlocked: soon after a skip, backing off when idle (wall ms). */
const PUMP_MIN_MS = 1;
const PUMP_MAX_MS = 8;

export class UnbalancedUnlockError extends Error {}

interface Sleeper {
  at: number;
  done: boolean;
}

export class TimeSkipping {
  private lockCount: number;
  private sleepers = new Set<Sleeper>();
  private pump: NodeJS.Timeout | undefined;
  private interval = PUMP_MIN_MS;
  private stopped = false;

  constructor(
    private readonly engine: Engine,
    private readonly clock: Clock,
    /** Unlocked from the start (`--enable-time-skipping`); otherwise a client must unlock it first. */
    enabledAtStart: boolean,
  ) {
    this.lockCount = enabledAtStart ? 0 : 1;
    this.wake();
  }

  get locks(): number {
    return this.lockCount;
  }

  lock(): void {
    this.lockCount++;
  }

  unlock(): void {
    if (this.lockCount === 0) throw new UnbalancedUnlockError('Unbalanced lock and unlock calls');
    this.lockCount--;
    this.wake();
  }

  /** Resolves when server time reaches `at` (at once if it has). Skips there if nothing else runs. */
  sleepUntil(at: number, onFire?: () => void, cancelled?: Promise<void>): Promise<void> {
    if (at <= this.clock.now()) {
      onFire?.();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const s: Sleeper = { at, done: false };
      this.sleepers.add(s);
      this.clock.schedule(at, () => {
        if (s.done) return;
        s.done = true;
        this.sleepers.delete(s);
        onFire?.();
        resolve();
      });
      cancelled?.then(() => {
        if (s.done) return;
        s.done = true;
        this.sleepers.delete(s);
        resolve();
      });
      this.wake();
    });
  }

  /**
   * Unlock, wait until server time has advanced by `ms`, lock again. The lock is retaken in the
   * timer callback itself, so time does not skip past the target. A cancelled call relocks too.
   */
  async unlockWithSleep(ms: number, cancelled?: Promise<void>): Promise<void> {
    let relocked = false;
    const relock = () => {
      if (relocked) return;
      relocked = true;
      this.lock();
    };
    const at = this.clock.now() + Math.max(0, ms);
    this.unlock();
    await this.sleepUntil(at, relock, cancelled);
    relock();
  }

  stop(): void {
    this.stopped = true;
    if (this.pump) clearTimeout(this.pump);
    this.pump = undefined;
  }

  /** Whether any workflow task or activity task is queued or running. */
  outstanding(): boolean {
    const now = this.clock.now();
    for (const exec of this.engine.openExecutions()) {
      const ms = exec.ms;
      if (ms.wft) return true;
      for (const ai of Object.values(ms.activities)) {
        if (ai.started || ai.notBefore <= now) return true;
      }
    }
    return false;
  }

  /** Earliest server time something is waiting for (Infinity when nothing waits on time). */
  nextWait(): number {
    const now = this.clock.now();
    let next = Infinity;
    for (const s of this.sleepers) next = Math.min(next, s.at);
    for (const exec of this.engine.openExecutions()) {
      const ms = exec.ms;
      for (const t of Object.values(ms.timers)) next = Math.min(next, t.fireAt);
      for (const ai of Object.values(ms.activities))
        if (!ai.started && ai.notBefore > now) next = Math.min(next, ai.notBefore);
      if (!ms.wft && ms.lastCompletedStartedId === 0 && ms.executionTime > now) next = Math.min(next, ms.executionTime);
      if (ms.runDeadline > 0) next = Math.min(next, ms.runDeadline);
      if (ms.executionDeadline > 0) next = Math.min(next, ms.executionDeadline);
    }
    return next;
  }

  /** Skip once if allowed; returns whether time moved. */
  step(): boolean {
    if (this.stopped || this.lockCount > 0 || this.outstanding()) return false;
    const next = this.nextWait();
    if (!Number.isFinite(next)) return false;
    const moved = next > this.clock.now();
    // Everything due by `next` fires now, in due order (stale timer entries on the way are no-ops).
    this.clock.skipTo(next);
    return moved;
  }

  /** Keep looking while unlocked: state changes come from timers, RPCs and workers alike. */
  private wake(soon = true): void {
    if (soon) this.interval = PUMP_MIN_MS;
    if (this.stopped || this.pump || this.lockCount > 0) return;
    this.pump = setTimeout(() => {
      this.pump = undefined;
      if (this.lockCount > 0 || this.stopped) return;
      const moved = this.step();
      this.interval = moved ? PUMP_MIN_MS : Math.min(this.interval * 2, PUMP_MAX_MS);
      this.wake(false);
    }, this.interval);
  }
}
