// Search attributes from inside a workflow: upsert at start and on signal, stay open until told to finish.
import { condition, defineSignal, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { SearchAttributes } from '@temporalio/workflow';

export const upsertAttributesSignal = defineSignal<[SearchAttributes]>('upsertAttributes');
export const finishSignal = defineSignal('finish');

export async function searchAttributesWorkflow(initial?: SearchAttributes): Promise<SearchAttributes> {
  if (initial && Object.keys(initial).length) upsertSearchAttributes(initial);
  let done = false;
  setHandler(upsertAttributesSignal, (attrs) => upsertSearchAttributes(attrs));
  setHandler(finishSignal, () => void (done = true));
  await condition(() => done);
  return workflowInfo().searchAttributes;
}
