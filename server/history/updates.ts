// Workflow updates over the message protocol: a request rides in a workflow task's `messages`
// (sequenced after the task's scheduled event); the worker answers with Acceptance / Rejection /
// Response messages, placed among its commands by ProtocolMessage commands. Accepted and completed
// updates become history events; a rejected one leaves none. Admitted-but-not-accepted updates live
// in memory only (as in Temporal, the caller retries them if the server restarts).
import { invalidArgument, notFound } from '../grpc';
import { EventType, api, enums } from '../proto';
import type { Engine } from './engine';
import type { Execution } from './execution';

const Stage = enums.UpdateWorkflowExecutionLifecycleStage;
const Request = api.update.v1.Request;
const Acceptance = api.update.v1.Acceptance;
const Rejection = api.update.v1.Rejection;
const Response = api.update.v1.Response;
const TYPE_PREFIX = 'type.googleapis.com/';
const UPDATE_WAIT_MS = 20_000;

export interface PendingUpdate {
  id: string;
  request: any;
  /** admitted: waiting for a task; sent: in task `seq`; accepted; completed (incl. rejected). */
  state: 'admitted' | 'sent' | 'accepted' | 'completed';
  seq: number;
  acceptedEventId: number;
  outcome: any;
  waiters: Array<{ stage: number; wake: () => void }>;
}

function stageOf(u: PendingUpdate): number {
  switch (u.state) {
    case 'completed':
      return Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED;
    case 'accepted':
      return Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED;
    default:
      return Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED;
  }
}

export class Updates {
  constructor(private readonly engine: Engine) {}

  /** Find an update in memory or, after a restart or once closed, rebuild it from history. */
  private lookup(exec: Execution, id: string): PendingUpdate | undefined {
    const known = exec.updates.get(id);
    if (known) return known;
    let u: PendingUpdate | undefined;
    for (const ev of exec.events) {
      const acc = ev.workflowExecutionUpdateAcceptedEventAttributes;
      if (acc && acc.protocolInstanceId === id) {
        u = {
          id,
          request: acc.acceptedRequest,
          state: 'accepted',
          seq: 0,
          acceptedEventId: Number(ev.eventId),
          outcome: null,
          waiters: [],
        };
      }
      const done = ev.workflowExecutionUpdateCompletedEventAttributes;
      if (u && done && done.meta?.updateId === id) {
        u.state = 'completed';
        u.outcome = done.outcome;
      }
    }
    if (u) exec.updates.set(id, u);
    return u;
  }

  /** UpdateWorkflowExecution: admit (or join) the update and wait for the requested stage. */
  async update(exec: Execution, req: any, signal?: { once?(e: 'cancelled', f: () => void): unknown }): Promise<any> {
    const request = req.request;
    const id: string = request?.meta?.updateId;
    if (!id) throw invalidArgument('Update id is not set on request.');
    if (!request.input?.name) throw invalidArgument('Update name is not set on request.');
    let u = this.lookup(exec, id);
    if (!u) {
      if (!exec.isOpen) throw notFound('workflow execution already completed');
      u = { id, request, state: 'admitted', seq: 0, acceptedEventId: 0, outcome: null, waiters: [] };
      exec.updates.set(id, u);
      if (!exec.ms.wft) {
        this.engine.scheduleSpeculativeWft(exec);
        this.engine.dirty(exec);
        await this.engine.store.commit();
      }
    }
    const want = req.waitPolicy?.lifecycleStage || Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED;
    await this.waitFor(u, want, signal);
    return this.response(exec, u);
  }

  /** PollWorkflowExecutionUpdate: wait for the stage of an update this run knows. */
  async poll(exec: Execution, req: any, signal?: { once?(e: 'cancelled', f: () => void): unknown }): Promise<any> {
    const id: string = req.updateRef?.updateId;
    const u = id ? this.lookup(exec, id) : undefined;
    if (!u) throw notFound(`update ${id} not found`);
    const want = req.waitPolicy?.lifecycleStage || Stage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED;
    await this.waitFor(u, want, signal);
    const r = this.response(exec, u);
    return { outcome: r.outcome, stage: r.stage, updateRef: r.updateRef };
  }

  private response(exec: Execution, u: PendingUpdate): any {
    return {
      updateRef: { workflowExecution: { workflowId: exec.ms.workflowId, runId: exec.ms.runId }, updateId: u.id },
      outcome: u.state === 'completed' ? u.outcome : undefined,
      stage: stageOf(u),
    };
  }

  private waitFor(
    u: PendingUpdate,
    stage: number,
    signal?: { once?(e: 'cancelled', f: () => void): unknown },
  ): Promise<void> {
    if (stageOf(u) >= stage) return Promise.resolve();
    return new Promise((resolve) => {
      const w = { stage, wake: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        u.waiters = u.waiters.filter((x) => x !== w);
        resolve();
      }, UPDATE_WAIT_MS);
      u.waiters.push(w);
      signal?.once?.('cancelled', w.wake);
    });
  }

  private advanced(u: PendingUpdate): void {
    const stage = stageOf(u);
    const ready = u.waiters.filter((w) => w.stage <= stage);
    u.waiters = u.waiters.filter((w) => w.stage > stage);
    if (ready.length) this.engine.store.afterCommit(() => ready.forEach((w) => w.wake()));
  }

  /** Protocol messages for a workflow task that is starting: every admitted update's request. */
  messagesFor(exec: Execution, seq: number, startedId: number): any[] {
    const out = [];
    for (const u of exec.updates.values()) {
      if (u.state !== 'admitted') continue;
      u.state = 'sent';
      u.seq = seq;
      out.push({
        id: `${u.id}/request`,
        protocolInstanceId: u.id,
        eventId: startedId - 1,
        body: { type_url: TYPE_PREFIX + 'temporal.api.update.v1.Request', value: Request.encode(u.request).finish() },
      });
    }
    return out;
  }

  /** Whether updates wait for a workflow task. */
  hasAdmitted(exec: Execution): boolean {
    for (const u of exec.updates.values()) if (u.state === 'admitted') return true;
    return false;
  }

  /** The task carrying these updates failed or timed out: deliver them again with the next one. */
  redeliver(exec: Execution): void {
    for (const u of exec.updates.values()) if (u.state === 'sent') u.state = 'admitted';
  }

  /** Decode the messages of a workflow task completion, by message id. */
  decode(messages: any[] | null | undefined): Map<string, { type: string; body: any; msg: any }> {
    const out = new Map<string, { type: string; body: any; msg: any }>();
    for (const m of messages ?? []) {
      const typeUrl: string = m.body?.type_url ?? m.body?.typeUrl ?? '';
      const type = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
      const codec =
        type === 'temporal.api.update.v1.Acceptance'
          ? Acceptance
          : type === 'temporal.api.update.v1.Rejection'
            ? Rejection
            : type === 'temporal.api.update.v1.Response'
              ? Response
              : null;
      if (!codec) throw invalidArgument(`unsupported protocol message type "${typeUrl}"`);
      out.set(m.id, { type, body: codec.decode(m.body.value ?? new Uint8Array()), msg: m });
    }
    return out;
  }

  /** Apply one worker message (acceptance → event, response → event, rejection → outcome only). */
  apply(exec: Execution, m: { type: string; body: any; msg: any }): void {
    const id: string = m.msg.protocolInstanceId;
    const u = this.lookup(exec, id);
    if (!u) return;
    if (m.type === 'temporal.api.update.v1.Acceptance') {
      if (u.state !== 'sent' && u.state !== 'admitted') return;
      const ev = this.engine.append(
        exec,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        'workflowExecutionUpdateAcceptedEventAttributes',
        {
          protocolInstanceId: id,
          acceptedRequestMessageId: m.body.acceptedRequestMessageId,
          acceptedRequestSequencingEventId: m.body.acceptedRequestSequencingEventId,
          acceptedRequest: m.body.acceptedRequest ?? u.request,
        },
      );
      u.state = 'accepted';
      u.acceptedEventId = ev.eventId;
    } else if (m.type === 'temporal.api.update.v1.Response') {
      if (u.state === 'completed') return;
      this.engine.append(
        exec,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        'workflowExecutionUpdateCompletedEventAttributes',
        { meta: m.body.meta ?? { updateId: id }, acceptedEventId: u.acceptedEventId, outcome: m.body.outcome },
      );
      u.state = 'completed';
      u.outcome = m.body.outcome;
    } else {
      if (u.state === 'completed' || u.state === 'accepted') return;
      u.state = 'completed';
      u.outcome = { failure: m.body.failure };
    }
    this.advanced(u);
  }

  /** After a completion: updates sent with this task that the worker ignored go round again. */
  settle(exec: Execution, seq: number): void {
    for (const u of exec.updates.values()) if (u.state === 'sent' && u.seq === seq) u.state = 'admitted';
  }

  /** The run closed: updates that can no longer complete fail their callers. */
  onClose(exec: Execution): void {
    for (const u of exec.updates.values()) {
      if (u.state === 'completed') continue;
      u.state = 'completed';
      u.outcome = { failure: { message: 'workflow execution already completed', applicationFailureInfo: {} } };
      this.advanced(u);
    }
  }
}
