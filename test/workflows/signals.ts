// Workflows for test/server/signals-queries.test.ts.
import { condition, defineQuery, defineSignal, setHandler } from '@temporalio/workflow';

export const addSignal = defineSignal<[number]>('add');
export const valuesQuery = defineQuery<number[]>('values');

/** Collects `add` signals until it has `expected` of them and returns them in delivery order. */
export async function collector(expected: number): Promise<number[]> {
  const values: number[] = [];
  setHandler(addSignal, (n: number) => void values.push(n));
  setHandler(valuesQuery, () => values);
  await condition(() => values.length >= expected);
  return values;
}
