// Signals, queries and updates of longhaul's workflows, shared by workflow code, activities, the API and the CLI.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { JobStatus, ProgressReport, ReviewDecision, StepResult } from './types';

/** Every job workflow answers this with its current status. */
export const statusQuery = defineQuery<JobStatus>('status');
/** A review decision; the validator refuses it unless a review is awaited. Returns the status after the decision. */
export const reviewUpdate = defineUpdate<JobStatus, [ReviewDecision]>('review');
/** The same decision as a signal, for callers that cannot send updates (ignored when no review is awaited). */
export const reviewSignal = defineSignal<[ReviewDecision]>('review');
/** Progress of a running step, sent (throttled) by the runCommand activity. */
export const progressSignal = defineSignal<[ProgressReport]>('progress');
/** Item counts of a fan-out step, sent by its fanOut child to the pipeline. */
export const fanOutProgressSignal =
  defineSignal<[{ stepId: string; total?: number; started: number; succeeded: number; failed: number }]>(
    'fanOutProgress',
  );

// ---- resource locks ----

export interface ResourceRequest {
  /** Unique per acquisition. */
  requestId: string;
  /** The workflow to signal when granted. */
  workflowId: string;
  units: number;
}
/** To the lock workflow of a resource: queue this request (capacity as configured at submission). */
export const acquireSignal = defineSignal<[ResourceRequest & { capacity: number }]>('acquire');
/** To the lock workflow: give back (or withdraw) a request. */
export const releaseSignal = defineSignal<[{ requestId: string }]>('release');
/** From the lock workflow to a requester: the request is granted. */
export const grantedSignal = defineSignal<[{ resource: string; requestId: string }]>('resourceGranted');

/** Result of a fan-out child workflow, for typing. */
export type FanOutResult = StepResult;
