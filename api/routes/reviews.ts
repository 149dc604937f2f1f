// Signed review links (/v1/reviews/:token), mounted without bearer auth: the token is the credential. GET only shows
// a confirmation page — mail scanners and link previews fetch links, so a GET must never decide; the page's form
// POSTs to the same URL, which records the decision through the `review` update. The workflow accepts a decision
// only for the review step it awaits, so a used, superseded or opposite link gets a clear "already decided" page.
// Browsers get small HTML pages; clients that ask for JSON get JSON or problem+json.
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { verifyReviewToken, type ReviewClaims } from '../../jobs/review-links';
import { isFinal } from '../../workflows/states';
import { reviewUpdate } from '../../workflows/definitions';
import type { Decision, JobStatus, ReviewRecord } from '../../workflows/types';
import type { ApiDeps } from '../deps';
import { jobRef, jobStatus } from '../job-access';
import { sendProblem } from '../problem';

const MAX_COMMENT = 4000;
const MAX_REVIEWER = 200;
const MAX_SHOWN_VALUE = 2000;
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** One answer, rendered as an HTML page or (for Accept: application/json) as JSON / problem+json. */
interface Reply {
  status: number;
  title: string;
  /** Plain text: the problem detail, and the page's first paragraph. */
  detail: string;
  /** Extra page content, already escaped. */
  html?: string;
  json?: Record<string, unknown>;
}

export function reviewLinkRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Vary', 'Accept');
    next();
  });
  router.use(express.urlencoded({ extended: false, limit: '16kb' }));
  router.use(express.json({ limit: '16kb' }));

  const verify = (token: string): { claims: ReviewClaims } | { reply: Reply } => {
    const check = verifyReviewToken(deps.config.secret, token);
    if (check.ok) return { claims: check.claims };
    if (check.reason === 'expired') {
      return {
        reply: {
          status: 410,
          title: 'This review link has expired',
          detail: 'This review link has expired. No decision was recorded.',
          json: { reason: 'expired' },
        },
      };
    }
    return {
      reply: {
        status: 400,
        title: 'This review link is invalid',
        detail: 'This review link is not valid (it may be incomplete or altered). No decision was recorded.',
        json: { reason: check.reason },
      },
    };
  };

  /** The job's status, or a reply when the job is gone. */
  const lookUp = async (claims: ReviewClaims): Promise<{ status: JobStatus } | { reply: Reply }> => {
    try {
      return { status: await jobStatus(await jobRef(deps.client, claims.jobId)) };
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      return {
        reply: {
          status: 404,
          title: 'This job no longer exists',
          detail: `Job ${claims.jobId} no longer exists. No decision was recorded.`,
          json: { jobId: claims.jobId },
        },
      };
    }
  };

  router.get('/:token', async (req, res) => {
    const v = verify(req.params.token);
    if ('reply' in v) return reply(req, res, v.reply);
    const { claims } = v;
    const found = await lookUp(claims);
    if ('reply' in found) return reply(req, res, found.reply);
    const { status } = found;
    if (!awaiting(status, claims.stepId)) return reply(req, res, notAwaiting(status, claims.stepId));

    const request = status.review?.stepId === claims.stepId ? status.review : undefined;
    const verb = claims.decision === 'approve' ? 'Approve' : 'Reject';
    const results = shownResults(status);
    const html =
      `<dl>${row('Job', status.jobId)}${row(status.kind === 'tool' ? 'Tool' : 'Pipeline', status.name)}` +
      `${row('Review step', claims.stepId)}${request?.message ? row('Message', request.message) : ''}` +
      `${request?.requestedAt ? row('Requested', request.requestedAt) : ''}` +
      `${row('Link valid until', new Date(claims.expiresAt).toISOString())}</dl>` +
      (results.length
        ? `<h2>Result</h2>${results.map((r) => `<h3>${esc(r.label)}</h3><pre>${esc(r.text)}</pre>`).join('')}`
        : '') +
      `<form method="post"><label>Comment<br><textarea name="comment" rows="4" maxlength="${MAX_COMMENT}">` +
      `</textarea></label><label>Your name<br><input name="reviewer" maxlength="${MAX_REVIEWER}"></label>` +
      `<button type="submit" class="${claims.decision}">${verb}</button></form>`;
    reply(req, res, {
      status: 200,
      title: `${verb} job ${status.jobId}?`,
      detail: `Nothing has been decided yet: press “${verb}” to record your decision.`,
      html,
      json: {
        jobId: status.jobId,
        kind: status.kind,
        name: status.name,
        state: status.state,
        stepId: claims.stepId,
        decision: claims.decision,
        message: request?.message,
        linkExpiresAt: new Date(claims.expiresAt).toISOString(),
        result: status.result?.value,
      },
    });
  });

  router.post('/:token', async (req, res) => {
    const v = verify(req.params.token);
    if ('reply' in v) return reply(req, res, v.reply);
    const { claims } = v;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const comment = textField(body.comment, MAX_COMMENT);
    const reviewer = textField(body.reviewer, MAX_REVIEWER);
    if (comment === null || reviewer === null) {
      return reply(req, res, {
        status: 400,
        title: 'Invalid form',
        detail: `The comment must be text of at most ${MAX_COMMENT} characters and the name at most ${MAX_REVIEWER}. No decision was recorded.`,
      });
    }
    const decision = { decision: claims.decision, stepId: claims.stepId, comment, reviewer: reviewer ?? 'review link' };
    let after: JobStatus;
    try {
      after = await deps.client.workflow.getHandle(claims.jobId).executeUpdate(reviewUpdate, { args: [decision] });
    } catch (err) {
      const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure && cause.type === 'InvalidDecision') {
        return reply(req, res, { status: 400, title: 'Invalid decision', detail: cause.message });
      }
      // Refused (not awaited any more) or the workflow closed: say what happened instead.
      const found = await lookUp(claims);
      if ('reply' in found) return reply(req, res, found.reply);
      if (!awaiting(found.status, claims.stepId)) return reply(req, res, notAwaiting(found.status, claims.stepId));
      throw err;
    }
    const decided = past(claims.decision);
    reply(req, res, {
      status: 200,
      title: `Recorded: ${decided}`,
      detail: `Your decision was recorded: ${decided}. The job is now ${after.state.replace('_', ' ')}.`,
      html:
        `<dl>${row('Job', after.jobId)}${row(after.kind === 'tool' ? 'Tool' : 'Pipeline', after.name)}` +
        `${row('Review step', claims.stepId)}${row('Reviewer', decision.reviewer)}` +
        `${comment ? row('Comment', comment) : ''}${row('Job state', after.state)}</dl>`,
      json: {
        jobId: after.jobId,
        stepId: claims.stepId,
        decision: claims.decision,
        reviewer: decision.reviewer,
        comment,
        state: after.state,
      },
    });
  });

  // Errors inside this router (a body too large, a failure talking to Temporal) as a page for browsers.
  const onError: ErrorRequestHandler = (err, req, res, next) => {
    if (res.headersSent || wantsJson(req)) return next(err);
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) req.log?.error({ err }, 'review link failed');
    reply(req, res, {
      status,
      title: status === 500 ? 'Something went wrong' : 'Invalid request',
      detail:
        status === 413
          ? 'The form is too large. No decision was recorded.'
          : status === 500
            ? 'The decision could not be processed; it has been logged. No decision was recorded — try again later.'
            : 'The request could not be read. No decision was recorded.',
    });
  };
  router.use(onError);
  return router;
}

function awaiting(status: JobStatus, stepId: string): boolean {
  return status.steps.some((s) => s.id === stepId && s.state === 'awaiting_review');
}

function notAwaiting(status: JobStatus, stepId: string): Reply {
  const record: ReviewRecord | undefined = [...status.reviews].reverse().find((r) => r.stepId === stepId);
  const state = status.state.replace('_', ' ');
  let detail: string;
  if (record) {
    const by =
      record.via === 'timeout' ? 'automatically when the review timed out' : `by ${record.reviewer ?? 'someone'}`;
    detail = `This review was already decided (${past(record.decision)} ${by} at ${record.decidedAt}). The job is ${state}.`;
  } else if (isFinal(status.state)) {
    detail = `The job is ${state}; it no longer awaits this review.`;
  } else {
    detail = `This review is not awaiting a decision; the job is ${state}.`;
  }
  return {
    status: 409,
    title: record ? 'Already decided' : 'Not awaiting this review',
    detail: `${detail} No decision was recorded.`,
    json: {
      jobId: status.jobId,
      stepId,
      state: status.state,
      ...(record
        ? { decided: { decision: record.decision, reviewer: record.reviewer, decidedAt: record.decidedAt } }
        : {}),
    },
  };
}

/** What the reviewer is asked about: the job's result, or the results of the steps that ran so far. */
function shownResults(status: JobStatus): { label: string; text: string }[] {
  const show = (r: JobStatus['result']) => {
    if (!r) return undefined;
    const v =
      r.value !== undefined ? (typeof r.value === 'string' ? r.value : JSON.stringify(r.value, null, 2)) : r.stdoutTail;
    if (v === undefined) return undefined;
    return v.length > MAX_SHOWN_VALUE ? `${v.slice(0, MAX_SHOWN_VALUE)}…` : v;
  };
  if (status.kind === 'tool') {
    const text = show(status.result);
    return text === undefined ? [] : [{ label: status.name, text }];
  }
  return status.steps.flatMap((s) => {
    const text = s.kind === 'review' ? undefined : show(s.result);
    return text === undefined ? [] : [{ label: s.tool ? `${s.id} (${s.tool})` : s.id, text }];
  });
}

/** An optional text field: undefined when absent or blank, null when invalid. */
function textField(v: unknown, max: number): string | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return null;
  const t = v.trim();
  if (t.length > max) return null;
  return t || undefined;
}

function past(d: Decision): string {
  return d === 'approve' ? 'approved' : 'rejected';
}

function wantsJson(req: Request): boolean {
  return req.accepts(['text/html', 'application/json']) === 'application/json';
}

function reply(req: Request, res: Response, r: Reply): void {
  if (wantsJson(req)) {
    if (r.status >= 400) return sendProblem(res, r.status, r.detail, r.json ?? {}, r.title);
    res.status(r.status).json(r.json ?? {});
    return;
  }
  res
    .status(r.status)
    .type('html')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
        `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(r.title)} — longhaul</title>` +
        `<style>${STYLE}</style></head><body><main><h1>${esc(r.title)}</h1><p>${esc(r.detail)}</p>${r.html ?? ''}` +
        `</main></body></html>`,
    );
}

function row(label: string, value: string): string {
  return `<dt>${esc(label)}</dt><dd>${esc(value)}</dd>`;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

const STYLE =
  'body{font-family:system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}' +
  'main{max-width:40rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px}' +
  'dt{font-weight:600;margin-top:.5rem}dd{margin:0 0 0 1rem}pre{background:#f0f0ee;padding:.5rem;overflow:auto}' +
  'label{display:block;margin-top:1rem}textarea,input{width:100%;box-sizing:border-box;font:inherit}' +
  'button{margin-top:1rem;padding:.5rem 1.5rem;font:inherit;border:0;border-radius:4px;color:#fff}' +
  '.approve{background:#1a7f37}.reject{background:#b42318}';
