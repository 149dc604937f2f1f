// Workflows for child-workflow and external-workflow tests.
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  ChildWorkflowCancellationType,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { slowActivityWorkflow } from './lifecycle';

export async function square(n: number): Promise<number> {
  return n * n;
}

/** Fans out `n` children and adds up their results. */
export async function fanOut(n: number): Promise<number> {
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      executeChild(square, { args: [i], workflowId: `${workflowInfo().workflowId}-c${i}` }),
    ),
  );
  return results.reduce((a, b) => a + b, 0);
}

export async function childFails(message: string): Promise<void> {
  // A plain Error would fail the workflow task (and be retried); ApplicationFailure fails the workflow.
  throw ApplicationFailure.create({ message, nonRetryable: true });
}

export async function parentOfFailing(): Promise<string> {
  try {
    await executeChild(childFails, { args: ['child broke'], retry: { maximumAttempts: 1 } });
    return 'no error';
  } catch (err) {
    return `${(err as Error).name}: ${((err as Error).cause as Error)?.message}`;
  }
}

export async function parentOfDuplicate(childId: string): Promise<string> {
  try {
    await startChild(waitForever, { workflowId: childId });
    return 'started';
  } catch (err) {
    return (err as Error).name;
  }
}

export const releaseSignal = defineSignal('release');
export const pingSignal = defineSignal<[string]>('ping');
export const pingsQuery = defineQuery<string[]>('pings');

export async function waitForever(): Promise<string> {
  const pings: string[] = [];
  let released = false;
  setHandler(pingSignal, (p) => void pings.push(p));
  setHandler(pingsQuery, () => pings);
  setHandler(releaseSignal, () => void (released = true));
  try {
    await condition(() => released);
    return `released after ${pings.length} pings`;
  } catch (err) {
    if (isCancellation(err)) return 'child saw cancellation';
    throw err;
  }
}

/** Starts a child with the given close policy and returns without waiting for it. */
export async function parentWithPolicy(childId: string, policy: keyof typeof ParentClosePolicy): Promise<string> {
  const child = await startChild(waitForever, { workflowId: childId, parentClosePolicy: ParentClosePolicy[policy] });
  return child.firstExecutionRunId;
}

/** Starts a child, then cancels it and reports how the child's result settled. */
export async function parentCancelsChild(childId: string): Promise<string> {
  let outcome = '';
  await CancellationScope.cancellable(async () => {
    const child = await startChild(waitForever, {
      workflowId: childId,
      cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    });
    const scope = CancellationScope.current();
    void sleep(100).then(() => scope.cancel());
    try {
      outcome = `completed: ${await child.result()}`;
    } catch (err) {
      outcome = `failed: ${(err as Error).name} / ${((err as Error).cause as Error)?.name}`;
    }
  }).catch(() => undefined);
  return outcome;
}

export async function signalsOther(targetId: string, times: number): Promise<void> {
  const h = getExternalWorkflowHandle(targetId);
  for (let i = 0; i < times; i++) await h.signal(pingSignal, `p${i}`);
  await h.signal(releaseSignal);
}

export async function cancelsOther(targetId: string): Promise<string> {
  try {
    await getExternalWorkflowHandle(targetId).cancel();
    return 'cancel requested';
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

export async function countdown(n: number): Promise<number> {
  if (n > 0) await continueAsNew<typeof countdown>(n - 1);
  return 42;
}

export async function parentOfContinuing(): Promise<number> {
  return await executeChild(countdown, { args: [2] });
}

/** Runs one slowActivityWorkflow child per key and joins their results (crash test). */
export async function parentOfSlow(keys: string[]): Promise<string[]> {
  return await Promise.all(
    keys.map((key) =>
      executeChild(slowActivityWorkflow, { args: [key], workflowId: `${workflowInfo().workflowId}-${key}` }),
    ),
  );
}
