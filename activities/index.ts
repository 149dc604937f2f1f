// All of longhaul's activities, bound to the worker's dependencies.
import type { ActivityDeps } from './deps';
import { createHttpCall } from './http-call';
import type { ActivityInterface } from './interface';
import { createItemActivities } from './items';
import { createNotify } from './notify';
import { createResourceActivities } from './resources';
import { createRunCommand } from './run-command';

export function createActivities(deps: ActivityDeps): ActivityInterface {
  return {
    runCommand: createRunCommand(deps),
    httpCall: createHttpCall(deps),
    notify: createNotify(deps),
    ...createItemActivities(deps),
    ...createResourceActivities(deps),
  };
}
