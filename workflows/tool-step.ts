// One tool run from a workflow: hold its resources, then run the command or HTTP call with the tool's timeouts
// and retry policy. Used by the job workflow, pipeline steps and fan-out items alike.
import { toolActivities } from './activities';
import { withResources } from './resources';
import type { RunCommandRequest, StepResult, StepRunInput } from './types';

export interface ToolRunHooks {
  onQueued?: (reason: string) => void;
  onStarted?: () => void;
  progressTo?: RunCommandRequest['progressTo'];
}

export async function runTool(run: StepRunInput, hooks: ToolRunHooks = {}): Promise<StepResult> {
  const { tool } = run;
  return withResources(
    tool.resources,
    run.resourceCapacities,
    (r) => hooks.onQueued?.(`waiting for resource ${r}`),
    async () => {
      hooks.onStarted?.();
      const acts = toolActivities(tool);
      const input = { ...tool.defaults, ...run.input };
      const base = { jobId: run.jobId, stepId: run.stepId, item: run.item, tool, input };
      if (tool.kind === 'http') return acts.httpCall(base);
      return acts.runCommand({ ...base, stdin: run.stdin, progressTo: hooks.progressTo });
    },
  );
}
