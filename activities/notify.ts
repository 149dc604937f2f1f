// The notify activity: tells people (email) and systems (webhooks) that a job finished or awaits a review.
// Retries and their backoff come from the workflow's activity retry policy; this code only decides what is worth
// retrying (a mail server or receiver that is down) and what is not (no SMTP configured, a receiver saying 4xx).
import { ApplicationFailure, Context } from '@temporalio/activity';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { reviewLinks, webhookSignature } from '../jobs/review-links';
import type { JobStatus, NotifyEvent, NotifyRequest } from '../workflows/types';
import type { ActivityDeps, SmtpSettings } from './deps';

export interface NotifyResult {
  email?: { messageId: string };
  webhook?: { status: number };
}

const WEBHOOK_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_LINK_TTL_MS = 30 * 24 * 3600 * 1000;
const SMTP_TIMEOUT_MS = 30_000;

export function createNotify(deps: ActivityDeps) {
  return async function notify(req: NotifyRequest): Promise<NotifyResult> {
    const { target, event } = req;
    const ctx = Context.current();
    // An email already sent by an earlier attempt (one that then failed on the webhook) is not sent again.
    const earlier = ctx.info.heartbeatDetails as { emailMessageId?: string } | undefined;
    const links = event.kind === 'review' ? linksFor(deps, event) : undefined;
    const result: NotifyResult = {};
    if (target.email) {
      if (typeof earlier?.emailMessageId === 'string') {
        result.email = { messageId: earlier.emailMessageId };
      } else {
        result.email = await sendEmail(deps, target.email, event, links);
        ctx.heartbeat({ emailMessageId: result.email.messageId });
      }
    }
    if (target.webhook) result.webhook = await postWebhook(deps, target.webhook, event, links);
    return result;
  };
}

type Links = { approve: string; reject: string; expiresAt: number };

function linksFor(deps: ActivityDeps, event: Extract<NotifyEvent, { kind: 'review' }>): Links {
  // The workflow passes the review's deadline; after it the default decision applies, so the links expire with it.
  // Expiry is checked by the API when a link is used, not here.
  const parsed = event.expiresAt ? Date.parse(event.expiresAt) : NaN;
  const expiresAt = Number.isFinite(parsed) ? parsed : Date.now() + DEFAULT_LINK_TTL_MS;
  const { approve, reject } = reviewLinks(deps.publicUrl, deps.secret, {
    jobId: event.status.jobId,
    stepId: event.stepId,
    expiresAt,
  });
  return { approve, reject, expiresAt };
}

// ---- email ----

async function sendEmail(
  deps: ActivityDeps,
  to: string,
  event: NotifyEvent,
  links: Links | undefined,
): Promise<{ messageId: string }> {
  if (!deps.smtp) {
    throw ApplicationFailure.nonRetryable('email notification requested but SMTP is not configured', 'NotConfigured');
  }
  if (/[\r\n]/.test(to) || !to.includes('@')) {
    throw ApplicationFailure.nonRetryable(`not an email address: ${JSON.stringify(to)}`, 'BadInput');
  }
  const { subject, text } = renderEmail(deps.publicUrl, event, links);
  const transport = nodemailer.createTransport(transportOptions(deps.smtp));
  const signal = Context.current().cancellationSignal;
  // nodemailer takes no AbortSignal: closing the transport is how a cancellation stops a send in progress.
  const onAbort = () => transport.close();
  signal.addEventListener('abort', onAbort);
  try {
    if (signal.aborted) throw signal.reason;
    const info = await transport.sendMail({ from: deps.smtp.from, to, subject, text });
    return { messageId: info.messageId };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw smtpFailure(err);
  } finally {
    signal.removeEventListener('abort', onAbort);
    transport.close();
  }
}

export function transportOptions(smtp: SmtpSettings): SMTPTransport.Options {
  const secure = smtp.secure ?? false;
  return {
    host: smtp.host,
    port: smtp.port,
    secure,
    auth: smtp.auth,
    // STARTTLS to a relay on the same machine protects nothing, and local relays often offer it with a certificate
    // that does not verify.
    ignoreTLS: !secure && isLoopback(smtp.host),
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function smtpFailure(err: unknown): Error {
  const e = err as { message?: string; responseCode?: number; code?: string };
  const message = `email: ${e?.message ?? String(err)}`;
  // A 5xx reply is permanent by SMTP's own definition (unknown mailbox, relaying denied, bad credentials): sending
  // the same message again gets the same answer. 4xx replies and connection problems are worth retrying.
  if (typeof e?.responseCode === 'number' && e.responseCode >= 500) {
    return ApplicationFailure.nonRetryable(message, 'EmailRejected', { responseCode: e.responseCode });
  }
  return ApplicationFailure.retryable(message, 'EmailFailed', { responseCode: e?.responseCode, code: e?.code });
}

export function renderEmail(
  publicUrl: string,
  event: NotifyEvent,
  links: Links | undefined,
): { subject: string; text: string } {
  const s = event.status;
  const jobUrl = `${publicUrl.replace(/\/+$/, '')}/v1/jobs/${encodeURIComponent(s.jobId)}`;
  const lines: string[] = [];
  let subject: string;
  if (event.kind === 'review') {
    subject = `[longhaul] review requested: job ${s.jobId} (${s.name})`;
    lines.push(`Job ${s.jobId} (${s.name}) is waiting for a review of step ${event.stepId}.`, '');
    const message = s.review?.stepId === event.stepId ? s.review.message : undefined;
    if (message) lines.push(message, '');
    if (links) {
      lines.push(`Approve: ${links.approve}`, `Reject:  ${links.reject}`, '');
      lines.push(`The links expire at ${new Date(links.expiresAt).toISOString()}.`);
      lines.push('Only the first decision for this review step counts.', '');
    }
  } else {
    subject = `[longhaul] job ${s.jobId} (${s.name}) ${s.state}`;
    lines.push(`Job ${s.jobId} (${s.name}) ${s.state}.`, '');
  }
  lines.push(...statusLines(s), '', `Details: ${jobUrl}`);
  return { subject, text: lines.join('\n') + '\n' };
}

function statusLines(s: JobStatus): string[] {
  const out = [`State:     ${s.state}`, `Kind:      ${s.kind}`, `Client:    ${s.clientId}`];
  const labels = Object.entries(s.labels ?? {});
  if (labels.length) out.push(`Labels:    ${labels.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  out.push(`Created:   ${s.createdAt}`);
  if (s.startedAt) out.push(`Started:   ${s.startedAt}`);
  if (s.finishedAt) out.push(`Finished:  ${s.finishedAt}`);
  if (s.retryOf) out.push(`Retry of:  ${s.retryOf}`);
  if (s.error) {
    const where = [
      s.error.step && `step ${s.error.step}`,
      s.error.exitCode !== undefined && `exit code ${s.error.exitCode}`,
    ]
      .filter(Boolean)
      .join(', ');
    out.push(`Error:     ${s.error.message}${where ? ` (${where})` : ''}`);
    if (s.error.stderrTail) out.push('', 'Stderr (last lines):', indent(clip(s.error.stderrTail, 2000)));
  }
  if (s.state === 'succeeded' && s.result) {
    if (s.result.value !== undefined) {
      const v = typeof s.result.value === 'string' ? s.result.value : JSON.stringify(s.result.value, null, 2);
      out.push('', 'Result:', indent(clip(v ?? '', 4000)));
    } else if (s.result.stdoutTail) {
      out.push('', 'Output (last lines):', indent(clip(s.result.stdoutTail, 2000)));
    }
  }
  return out;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : '…' + s.slice(s.length - max);
}

function indent(s: string): string {
  return s
    .replace(/\s+$/, '')
    .split('\n')
    .map((l) => '  ' + l)
    .join('\n');
}

// ---- webhook ----

async function postWebhook(
  deps: ActivityDeps,
  url: string,
  event: NotifyEvent,
  links: Links | undefined,
): Promise<{ status: number }> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw ApplicationFailure.nonRetryable(`not a URL: ${JSON.stringify(url)}`, 'BadInput');
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw ApplicationFailure.nonRetryable(`webhook URL must be http or https: ${target.protocol}`, 'BadInput');
  }
  const ctx = Context.current();
  const name = event.kind === 'review' ? 'job.review_requested' : 'job.finished';
  const payload: Record<string, unknown> = { event: name, sentAt: new Date().toISOString(), job: event.status };
  if (links) payload.links = { approve: links.approve, reject: links.reject };
  const body = Buffer.from(JSON.stringify(payload));
  // The activity id is stable across retries of this activity, so a receiver can drop duplicate deliveries.
  const delivery = `${ctx.info.workflowExecution?.workflowId ?? '-'}:${ctx.info.activityId}`;
  const signal = AbortSignal.any([AbortSignal.timeout(WEBHOOK_TIMEOUT_MS), ctx.cancellationSignal]);
  let status: number;
  let text: string;
  try {
    const res = await fetch(target, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'longhaul',
        'X-Longhaul-Event': name,
        'X-Longhaul-Delivery': delivery,
        'X-Longhaul-Signature': webhookSignature(deps.secret, body),
      },
      body,
      // A redirect would re-send (or, for 301/302, drop) a signed body to somewhere nobody configured.
      redirect: 'manual',
      signal,
    });
    status = res.status;
    // A 2xx is all that matters: the body is not needed, and failing to read it must not cause a re-delivery.
    if (status >= 200 && status < 300) {
      await res.body?.cancel().catch(() => undefined);
      return { status };
    }
    text = await readCapped(res, MAX_RESPONSE_BYTES).catch(() => '');
  } catch (err) {
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
    if (signal.aborted) {
      throw ApplicationFailure.retryable(`webhook: no response within ${WEBHOOK_TIMEOUT_MS} ms`, 'WebhookFailed');
    }
    throw ApplicationFailure.retryable(`webhook: ${describeNetworkError(err)}`, 'WebhookFailed');
  }
  const message = `webhook: HTTP ${status}${text ? `: ${text.slice(0, 300)}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) {
    throw ApplicationFailure.retryable(message, 'WebhookFailed', { status });
  }
  throw ApplicationFailure.nonRetryable(message, 'WebhookRejected', { status });
}

/** Reads at most `max` bytes of a response body (as text) and drops the rest. */
async function readCapped(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
      size += value.byteLength;
    }
  } finally {
    if (size >= max) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

function describeNetworkError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`;
}
