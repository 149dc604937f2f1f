// Workflows for update tests: a counter whose `add` update is validated and whose `finish` ends it.
import { condition, defineUpdate, setHandler, sleep } from '@temporalio/workflow';

export const addUpdate = defineUpdate<number, [number]>('add');
export const slowAddUpdate = defineUpdate<number, [number]>('slowAdd');
export const finishUpdate = defineUpdate<number>('finish');

export async function counter(): Promise<number> {
  let total = 0;
  let done = false;
  setHandler(
    addUpdate,
    (n) => {
      total += n;
      return total;
    },
    {
      validator: (n) => {
        if (n < 0) throw new Error(`negative amounts are rejected: ${n}`);
      },
    },
  );
  setHandler(slowAddUpdate, async (n) => {
    await sleep(200);
    total += n;
    return total;
  });
  setHandler(finishUpdate, () => {
    done = true;
    return total;
  });
  await condition(() => done);
  return total;
}
