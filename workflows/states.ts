// A job's states, and which of them are final. Pure: used by workflow code and by the API.
import type { JobState } from './types';

export const JOB_STATES: readonly JobState[] = [
  'queued',
  'running',
  'awaiting_review',
  'succeeded',
  'failed',
  'canceled',
];
export const OPEN_STATES: readonly JobState[] = ['queued', 'running', 'awaiting_review'];

export function isFinal(state: string): boolean {
  return state === 'succeeded' || state === 'failed' || state === 'canceled';
}
