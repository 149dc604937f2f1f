// temporal.api.testservice.v1.TestService: the time-skipping controls @temporalio/testing's
// time-skipping environment calls (unlock around awaiting a result, unlock-with-sleep for
// env.sleep(), current time for env.currentTimeMs()). Served only in test-server mode.
import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../clock';
import { failedPrecondition, type Handler } from '../grpc';
import { durationMs, msToTimestamp, timestampMs } from '../proto';
import { TimeSkipping, UnbalancedUnlockError } from '../time-skipping';

function cancelledPromise(call: grpc.ServerUnaryCall<any, any>): Promise<void> {
  return new Promise((resolve) => {
    if (call.cancelled) resolve();
    else call.once('cancelled', () => resolve());
  });
}

export function testServiceHandlers(skipper: TimeSkipping, clock: Clock): Record<string, Handler> {
  return {
    LockTimeSkipping: () => {
      skipper.lock();
      return {};
    },
    UnlockTimeSkipping: () => {
      try {
        skipper.unlock();
      } catch (err) {
        if (err instanceof UnbalancedUnlockError) throw failedPrecondition(err.message);
        throw err;
      }
      return {};
    },
    // Waits until server time has moved on by the duration (skipping there only if unlocked and idle).
    Sleep: async (req, call) => {
      await skipper.sleepUntil(clock.now() + durationMs(req.duration), undefined, cancelledPromise(call));
      return {};
    },
    SleepUntil: async (req, call) => {
      await skipper.sleepUntil(timestampMs(req.timestamp), undefined, cancelledPromise(call));
      return {};
    },
    // Unlock, sleep, lock again. Already unlocked (started with --enable-time-skipping): just sleep.
    UnlockTimeSkippingWithSleep: async (req, call) => {
      const ms = durationMs(req.duration);
      if (skipper.locks === 0) await skipper.sleepUntil(clock.now() + ms, undefined, cancelledPromise(call));
      else await skipper.unlockWithSleep(ms, cancelledPromise(call));
      return {};
    },
    GetCurrentTime: () => ({ time: msToTimestamp(clock.now()) }),
  };
}
