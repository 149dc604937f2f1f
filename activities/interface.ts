// The activities a longhaul worker registers, as workflow code sees them (types only).
import type { ResourceRequest } from '../workflows/definitions';
import type {
  CollectRequest,
  HttpCallRequest,
  NotifyRequest,
  ReadItemsRequest,
  ReadItemsResult,
  RunCommandRequest,
  StepResult,
} from '../workflows/types';

export interface ActivityInterface {
  runCommand(req: RunCommandRequest): Promise<StepResult>;
  httpCall(req: HttpCallRequest): Promise<StepResult>;
  notify(req: NotifyRequest): Promise<{ email?: { messageId: string }; webhook?: { status: number } }>;
  readItems(req: ReadItemsRequest): Promise<ReadItemsResult>;
  collectResults(req: CollectRequest): Promise<StepResult>;
  /** Queues a request with a resource's lock workflow, starting that workflow if need be. */
  requestResource(req: { resource: string; capacity: number; request: ResourceRequest }): Promise<void>;
  /** Of the given workflow ids, those whose latest run is no longer running. */
  findClosedWorkflows(workflowIds: string[]): Promise<string[]>;
}
