// One item of a fan-out, as its own child workflow: its retries and resource waits live in its own history,
// so the fan-out's history grows by a few events per item however long each item takes.
import { runTool } from './tool-step';
import type { StepResult, StepRunInput } from './types';

export async function runStep(input: StepRunInput): Promise<StepResult> {
  return runTool(input);
}
