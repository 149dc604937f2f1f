// The status of a job as its workflow sees it: answers the `status` query, takes progress signals, keeps the
// LonghaulState search attribute in step with the state, and holds the review gate's pending decisions.
import { condition, setHandler, upsertSearchAttributes, workflowInfo, ApplicationFailure } from '@temporalio/workflow';
import { progressSignal, reviewSignal, reviewUpdate, statusQuery } from './definitions';
import { STATE_KEY } from './search-attributes';
import { isFinal } from './states';
import type { JobError, JobState, JobStatus, ReviewDecision, ReviewRecord, ReviewRequest, StepStatus } from './types';

export class JobTracker {
  readonly status: JobStatus;
  /** Review steps awaiting a decision, in the order they were requested. */
  private readonly awaiting = new Map<string, ReviewRequest>();
  private readonly decisions = new Map<string, ReviewDecision & { via: ReviewRecord['via'] }>();
  private readonly versionBase: number;
  private version: number;

  /** `initial` is the status the job starts with; `carried`, the status carried over continue-as-new. */
  constructor(initial: JobStatus, carried?: JobStatus) {
    this.status = carried ?? initial;
    this.versionBase = carried?.version ?? 0;
    this.version = this.versionBase;
    // A review that was pending when the run continued as new is pending again.
    if (carried?.review) this.awaiting.set(carried.review.stepId, carried.review);
    setHandler(statusQuery, () => this.snapshot());
    setHandler(progressSignal, (p) => {
      const step = this.step(p.stepId);
      if (!step || step.state !== 'running') return;
      if (p.progress !== undefined) step.progress = Math.max(0, Math.min(100, p.progress)) / 100;
      if (p.message !== undefined) step.message = p.message.slice(0, 500);
      if (p.attempt !== undefined) step.attempt = p.attempt;
      this.recomputeProgress();
    });
    setHandler(
      reviewUpdate,
      async (d) => {
        const stepId = this.accept(d, 'update');
        await condition(() => !this.decisions.has(stepId));
        return this.snapshot();
      },
      { validator: (d) => void this.check(d) },
    );
    setHandler(reviewSignal, (d) => {
      try {
        this.accept(d, 'signal');
      } catch {
        // A signal cannot be refused; a decision nobody awaits is dropped.
      }
    });
  }

  /** The status with its version: a number that grows with the job's history (across continue-as-new too), so
   * a client that saw version v knows whether there can be news. The same history gives the same version. */
  snapshot(): JobStatus {
    this.status.version = this.version;
    return this.status;
  }

  /** Notes that the status changed: its version becomes the history's length at this point (read when the change
   * happens, not in the query, because a query on a closed run may be answered without a history length). */
  touch(): void {
    this.version = Math.max(this.version, this.versionBase + workflowInfo().historyLength);
  }

  step(id: string): StepStatus | undefined {
    return this.status.steps.find((s) => s.id === id);
  }

  setState(state: JobState, extra: { queuedReason?: string; message?: string } = {}): void {
    this.touch();
    const s = this.status;
    s.queuedReason = state === 'queued' ? extra.queuedReason : undefined;
    if (extra.message !== undefined) s.message = extra.message;
    if (state === 'running' && !s.startedAt) s.startedAt = now();
    if (isFinal(state)) s.finishedAt = now();
    if (s.state === state) return;
    s.state = state;
    upsertSearchAttributes([{ key: STATE_KEY, value: state }]);
  }

  /** The job's state while not finished: derived from its steps. */
  refreshState(): void {
    const steps = this.status.steps;
    if (this.awaiting.size) return this.setState('awaiting_review');
    if (steps.some((s) => s.state === 'running')) return this.setState('running');
    const queued = steps.find((s) => s.state === 'queued');
    if (queued) return this.setState('queued', { queuedReason: queued.queuedReason });
    if (this.status.startedAt) this.setState('running');
  }

  startStep(id: string): void {
    this.touch();
    const step = this.step(id)!;
    step.state = 'running';
    step.startedAt ??= now();
    step.queuedReason = undefined;
    this.refreshState();
  }

  queueStep(id: string, reason: string): void {
    this.touch();
    const step = this.step(id)!;
    step.state = 'queued';
    step.queuedReason = reason;
    this.refreshState();
  }

  finishStep(id: string, state: StepStatus['state'], fields: Partial<StepStatus> = {}): void {
    const step = this.step(id)!;
    Object.assign(step, fields);
    step.state = state;
    step.queuedReason = undefined;
    if (state === 'succeeded') step.progress = 1;
    if (state !== 'skipped') step.finishedAt = now();
    this.recomputeProgress();
    this.refreshState();
  }

  fail(error: JobError): void {
    this.status.error = error;
    this.setState('failed');
  }

  recomputeProgress(): void {
    this.touch();
    const steps = this.status.steps.filter((s) => s.state !== 'skipped');
    if (!steps.length) return;
    const sum = steps.reduce((acc, s) => acc + (s.state === 'succeeded' ? 1 : (s.progress ?? 0)), 0);
    this.status.progress = Math.round((sum / steps.length) * 1000) / 1000;
  }

  // ---- review ----

  /** Asks for a review of `stepId` and waits for the decision (or the timeout's default). */
  async awaitReview(
    stepId: string,
    opts: {
      message?: string;
      timeoutMs?: number;
      default?: 'approve' | 'reject';
      onRequested?: (r: ReviewRequest) => Promise<void>;
    },
  ): Promise<ReviewRecord> {
    let request = this.awaiting.get(stepId);
    if (!request) {
      request = {
        stepId,
        requestedAt: now(),
        expiresAt: opts.timeoutMs !== undefined ? new Date(Date.now() + opts.timeoutMs).toISOString() : undefined,
        message: opts.message,
        default: opts.default ?? 'reject',
      };
      this.awaiting.set(stepId, request);
    }
    const step = this.step(stepId);
    if (step) {
      step.state = 'awaiting_review';
      step.startedAt ??= now();
    }
    this.status.review = [...this.awaiting.values()][0];
    this.refreshState();
    if (opts.onRequested) await opts.onRequested(request);
    const remaining = request.expiresAt ? Math.max(0, Date.parse(request.expiresAt) - Date.now()) : undefined;
    const decided =
      remaining === undefined
        ? (await condition(() => this.decisions.has(stepId)), true)
        : await condition(() => this.decisions.has(stepId), remaining);
    const d = decided
      ? this.decisions.get(stepId)!
      : { decision: request.default ?? 'reject', via: 'timeout' as const };
    const record: ReviewRecord = {
      stepId,
      decision: d.decision,
      comment: 'comment' in d ? d.comment : 'no decision before the review timed out',
      reviewer: 'reviewer' in d ? d.reviewer : undefined,
      decidedAt: now(),
      via: d.via,
    };
    this.status.reviews.push(record);
    this.awaiting.delete(stepId);
    this.decisions.delete(stepId);
    this.status.review = [...this.awaiting.values()][0];
    this.refreshState();
    return record;
  }

  /** The review step a decision applies to; throws (refusing an update) when none is awaited. */
  private check(d: ReviewDecision): string {
    if (!d || (d.decision !== 'approve' && d.decision !== 'reject')) {
      throw ApplicationFailure.nonRetryable('decision must be "approve" or "reject"', 'InvalidDecision');
    }
    if (d.comment !== undefined && (typeof d.comment !== 'string' || d.comment.length > 4000)) {
      throw ApplicationFailure.nonRetryable('comment must be a string of at most 4000 characters', 'InvalidDecision');
    }
    if (d.reviewer !== undefined && (typeof d.reviewer !== 'string' || d.reviewer.length > 200)) {
      throw ApplicationFailure.nonRetryable('reviewer must be a string of at most 200 characters', 'InvalidDecision');
    }
    const stepId = d.stepId ?? [...this.awaiting.keys()][0];
    if (!stepId || !this.awaiting.has(stepId) || this.decisions.has(stepId)) {
      throw ApplicationFailure.nonRetryable(
        d.stepId ? `review ${d.stepId} is not awaiting a decision` : 'the job is not awaiting review',
        'NotAwaitingReview',
      );
    }
    return stepId;
  }

  private accept(d: ReviewDecision, via: ReviewRecord['via']): string {
    const stepId = this.check(d);
    this.decisions.set(stepId, { decision: d.decision, comment: d.comment, reviewer: d.reviewer, via });
    return stepId;
  }
}

export function now(): string {
  return new Date().toISOString();
}

/** The id of the running workflow. */
export function selfId(): string {
  return workflowInfo().workflowId;
}
