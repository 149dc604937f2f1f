import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { MockActivityEnvironment } from '@temporalio/testing';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../../activities/deps';
import { createNotify } from '../../activities/notify';
import { verifyReviewToken, verifyWebhookSignature } from '../../jobs/review-links';
import type { JobStatus, NotifyRequest } from '../../workflows/types';
import { activityEnv, failure, runActivity as run } from '../helpers/activities';

const secret = 'notify-secret';
const publicUrl = 'http://jobs.example.test:8080/';

function status(over: Partial<JobStatus> = {}): JobStatus {
  return {
    jobId: 'job-42',
    kind: 'pipeline',
    name: 'assemble',
    clientId: 'lab',
    labels: { project: 'x' },
    state: 'succeeded',
    steps: [],
    reviews: [],
    createdAt: '2024-01-01T00:00:00.000Z',
    startedAt: '2024-01-01T00:00:01.000Z',
    finishedAt: '2024-01-01T01:00:00.000Z',
    result: { exitCode: 0, value: { contigs: 17 } },
    ...over,
  };
}

const reviewStatus = status({
  state: 'awaiting_review',
  finishedAt: undefined,
  result: undefined,
  review: { stepId: 'qc', requestedAt: '2024-01-01T00:30:00.000Z', message: 'Check the QC plots please' },
});

function env(info: Record<string, unknown> = {}): MockActivityEnvironment {
  return activityEnv({
    activityId: '7',
    workflowExecution: { workflowId: 'job-42', runId: 'run-1' },
    heartbeatTimeoutMs: undefined,
    ...info,
  });
}

// ---- a real SMTP server ----

interface Mail {
  to: string[];
  raw: string;
}

let smtp: SMTPServer;
let smtpPort: number;
const mails: Mail[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

afterEach(() => {
  mails.length = 0;
});

function deps(over: Partial<ActivityDeps> = {}): ActivityDeps {
  return {
    dataDir: '/nonexistent',
    secret,
    publicUrl,
    smtp: { host: '127.0.0.1', port: smtpPort, secure: false, from: 'longhaul@example.test' },
    ...over,
  };
}

/** Headers and the decoded text body of a raw single-part message. */
function parseMail(raw: string): { headers: Record<string, string>; text: string } {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  let text = rest.join('\r\n\r\n');
  const cte = headers['content-transfer-encoding']?.toLowerCase();
  if (cte === 'quoted-printable') {
    const bytes = text
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    text = Buffer.from(bytes, 'latin1').toString('utf8');
  } else if (cte === 'base64') {
    text = Buffer.from(text, 'base64').toString('utf8');
  }
  return { headers, text: text.replace(/\r\n/g, '\n') };
}

describe('notify: email', () => {
  it('sends a review request with signed Approve and Reject links', async () => {
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const req: NotifyRequest = {
      target: { email: 'reviewer@example.test' },
      event: { kind: 'review', status: reviewStatus, stepId: 'qc', expiresAt },
    };
    const result = await run(env(), createNotify(deps()), req);
    expect(result.email?.messageId).toMatch(/@/);
    expect(result.webhook).toBeUndefined();
    expect(mails).toHaveLength(1);
    expect(mails[0].to).toEqual(['reviewer@example.test']);
    const { headers, text } = parseMail(mails[0].raw);
    expect(headers.subject).toBe('[longhaul] review requested: job job-42 (assemble)');
    expect(headers.from).toContain('longhaul@example.test');
    expect(text).toContain('Check the QC plots please');
    expect(text).toContain('step qc');
    expect(text).toContain('http://jobs.example.test:8080/v1/jobs/job-42');
    const approve = /Approve: (\S+)/.exec(text)?.[1];
    const reject = /Reject: +(\S+)/.exec(text)?.[1];
    for (const [link, decision] of [
      [approve, 'approve'],
      [reject, 'reject'],
    ] as const) {
      const m = /^http:\/\/jobs\.example\.test:8080\/v1\/reviews\/(\S+)$/.exec(link ?? '');
      expect(m, link).not.toBeNull();
      const v = verifyReviewToken(secret, m![1]);
      expect(v).toEqual({
        ok: true,
        claims: { jobId: 'job-42', stepId: 'qc', decision, expiresAt: Date.parse(expiresAt) },
      });
    }
  });

  it('links without a deadline expire in 30 days', async () => {
    const req: NotifyRequest = {
      target: { email: 'reviewer@example.test' },
      event: { kind: 'review', status: reviewStatus, stepId: 'qc' },
    };
    const before = Date.now();
    await run(env(), createNotify(deps()), req);
    const { text } = parseMail(mails[0].raw);
    const token = /Approve: \S+\/v1\/reviews\/(\S+)/.exec(text)![1];
    const v = verifyReviewToken(secret, token);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    const days30 = 30 * 24 * 3600_000;
    expect(v.claims.expiresAt).toBeGreaterThanOrEqual(before + days30);
    expect(v.claims.expiresAt).toBeLessThanOrEqual(Date.now() + days30);
  });

  it('reports success with the result, failure with the error', async () => {
    const notify = createNotify(deps());
    await run(env(), notify, { target: { email: 'a@example.test' }, event: { kind: 'finished', status: status() } });
    await run(env(), notify, {
      target: { email: 'a@example.test' },
      event: {
        kind: 'finished',
        status: status({
          state: 'failed',
          result: undefined,
          error: { message: 'assembler crashed', step: 'asm', exitCode: 3 },
        }),
      },
    });
    await run(env(), notify, {
      target: { email: 'a@example.test' },
      event: { kind: 'finished', status: status({ state: 'canceled', result: undefined }) },
    });
    const [ok, failed, canceled] = mails.map((m) => parseMail(m.raw));
    expect(ok.headers.subject).toBe('[longhaul] job job-42 (assemble) succeeded');
    expect(ok.text).toContain('"contigs": 17');
    expect(ok.text).toContain('Finished:  2024-01-01T01:00:00.000Z');
    expect(ok.text).toContain('http://jobs.example.test:8080/v1/jobs/job-42');
    expect(ok.text).not.toContain('/v1/reviews/');
    expect(failed.headers.subject).toBe('[longhaul] job job-42 (assemble) failed');
    expect(failed.text).toContain('assembler crashed (step asm, exit code 3)');
    expect(canceled.headers.subject).toBe('[longhaul] job job-42 (assemble) canceled');
  });

  it('fails non-retryably without SMTP settings', async () => {
    const err = await failure(
      run(env(), createNotify(deps({ smtp: undefined })), {
        target: { email: 'a@example.test' },
        event: { kind: 'finished', status: status() },
      }),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.type).toBe('NotConfigured');
    expect(err.nonRetryable).toBe(true);
  });

  it('fails retryably when the mail server is unreachable', async () => {
    const closed = await unusedPort();
    const err = await failure(
      run(env(), createNotify(deps({ smtp: { host: '127.0.0.1', port: closed, from: 'x@example.test' } })), {
        target: { email: 'a@example.test' },
        event: { kind: 'finished', status: status() },
      }),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.nonRetryable).toBe(false);
  });

  it('does not send the email again after an attempt that sent it', async () => {
    const e = env({ attempt: 2, heartbeatDetails: { emailMessageId: '<earlier@example.test>' } });
    const result = await run(e, createNotify(deps()), {
      target: { email: 'a@example.test' },
      event: { kind: 'finished', status: status() },
    });
    expect(result.email).toEqual({ messageId: '<earlier@example.test>' });
    expect(mails).toHaveLength(0);
  });
});

// ---- a real webhook receiver ----

interface Received {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  method?: string;
}

async function receiver(
  respond: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ headers: req.headers, body, method: req.method });
      respond(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function unusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('notify: webhook', () => {
  const servers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  async function hook(respond: Parameters<typeof receiver>[0]) {
    const r = await receiver(respond);
    servers.push(r);
    return r;
  }

  it('posts a signed job.finished event', async () => {
    const r = await hook((_req, res) => res.writeHead(204).end());
    const job = status();
    const result = await run(env(), createNotify(deps()), {
      target: { webhook: r.url },
      event: { kind: 'finished', status: job },
    });
    expect(result).toEqual({ webhook: { status: 204 } });
    expect(r.received).toHaveLength(1);
    const { headers, body, method } = r.received[0];
    expect(method).toBe('POST');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['user-agent']).toBe('longhaul');
    expect(headers['x-longhaul-event']).toBe('job.finished');
    expect(headers['x-longhaul-delivery']).toBe('job-42:7');
    expect(verifyWebhookSignature(secret, body, headers['x-longhaul-signature'])).toBe(true);
    expect(verifyWebhookSignature('wrong', body, headers['x-longhaul-signature'])).toBe(false);
    const parsed = JSON.parse(body.toString('utf8'));
    expect(parsed.event).toBe('job.finished');
    expect(Date.parse(parsed.sentAt)).not.toBeNaN();
    expect(parsed.job).toEqual(job);
    expect(parsed.links).toBeUndefined();
  });

  it('posts job.review_requested with links', async () => {
    const r = await hook((_req, res) => res.writeHead(200).end('thanks'));
    await run(env(), createNotify(deps()), {
      target: { webhook: r.url },
      event: { kind: 'review', status: reviewStatus, stepId: 'qc' },
    });
    const { headers, body } = r.received[0];
    expect(headers['x-longhaul-event']).toBe('job.review_requested');
    expect(verifyWebhookSignature(secret, body, headers['x-longhaul-signature'])).toBe(true);
    const parsed = JSON.parse(body.toString('utf8'));
    expect(parsed.event).toBe('job.review_requested');
    for (const decision of ['approve', 'reject'] as const) {
      const token = /\/v1\/reviews\/(.+)$/.exec(parsed.links[decision])![1];
      const v = verifyReviewToken(secret, token);
      expect(v.ok && v.claims.decision).toBe(decision);
      expect(v.ok && v.claims.stepId).toBe('qc');
    }
  });

  it('sends email first, then the webhook', async () => {
    let mailsAtHook = -1;
    const r = await hook((_req, res) => {
      mailsAtHook = mails.length;
      res.writeHead(200).end();
    });
    const result = await run(env(), createNotify(deps()), {
      target: { email: 'a@example.test', webhook: r.url },
      event: { kind: 'finished', status: status() },
    });
    expect(result.email?.messageId).toBeTruthy();
    expect(result.webhook).toEqual({ status: 200 });
    expect(mailsAtHook).toBe(1);
  });

  it('classifies failures: 5xx/429/408 retryable, other 4xx final', async () => {
    let code = 500;
    const r = await hook((_req, res) => res.writeHead(code).end('nope'));
    const attempt = () =>
      failure(
        run(env(), createNotify(deps()), { target: { webhook: r.url }, event: { kind: 'finished', status: status() } }),
      );
    for (const c of [500, 503, 429, 408]) {
      code = c;
      const err = await attempt();
      expect(err, String(c)).toBeInstanceOf(Error);
      expect(err.nonRetryable, String(c)).toBeFalsy();
      expect(err.message).toContain(`HTTP ${c}`);
    }
    for (const c of [400, 404, 410]) {
      code = c;
      const err = await attempt();
      expect(err, String(c)).toBeInstanceOf(ApplicationFailure);
      expect(err.nonRetryable).toBe(true);
      expect(err.type).toBe('WebhookRejected');
      expect(err.details).toEqual([{ status: c }]);
    }
  });

  it('does not follow redirects', async () => {
    const r = await hook((_req, res) => res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end());
    const err = await failure(
      run(env(), createNotify(deps()), { target: { webhook: r.url }, event: { kind: 'finished', status: status() } }),
    );
    expect(err.type).toBe('WebhookRejected');
    expect(r.received).toHaveLength(1);
  });

  it('reads at most 64 KiB of an error response', async () => {
    const r = await hook((_req, res) => {
      res.writeHead(400);
      // Never ends: the activity must stop reading on its own.
      const chunk = Buffer.alloc(16 * 1024, 'x');
      const timer = setInterval(() => res.write(chunk), 1);
      res.on('close', () => clearInterval(timer));
    });
    const err = await failure(
      run(env(), createNotify(deps()), { target: { webhook: r.url }, event: { kind: 'finished', status: status() } }),
    );
    expect(err.type).toBe('WebhookRejected');
    expect(err.message.length).toBeLessThan(1000);
  });

  it('treats an unreachable receiver as retryable', async () => {
    const port = await unusedPort();
    const err = await failure(
      run(env(), createNotify(deps()), {
        target: { webhook: `http://127.0.0.1:${port}/hook` },
        event: { kind: 'finished', status: status() },
      }),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err.nonRetryable).toBe(false);
  });

  it('refuses URLs that are not http(s)', async () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.test/x', 'not a url']) {
      const err = await failure(
        run(env(), createNotify(deps()), { target: { webhook: url }, event: { kind: 'finished', status: status() } }),
      );
      expect(err.type, url).toBe('BadInput');
      expect(err.nonRetryable).toBe(true);
    }
  });

  it('stops waiting when the activity is cancelled', async () => {
    const r = await hook(() => {
      // never answers
    });
    const e = env();
    const p = failure(
      run(e, createNotify(deps()), { target: { webhook: r.url }, event: { kind: 'finished', status: status() } }),
    );
    while (r.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const started = Date.now();
    e.cancel();
    const err = await p;
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
