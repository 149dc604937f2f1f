// Notifications from real jobs: email to a local SMTP server, webhooks to a local HTTP server with a valid
// HMAC signature, and review requests carrying signed Approve/Reject links.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReviewToken, verifyWebhookSignature } from '../../jobs/review-links';
import { reviewUpdate } from '../../workflows/definitions';
import { createJobsContext, eventually, TEST_SECRET, type JobsContext } from '../helpers/jobs';

interface Mail {
  to: string;
  raw: string;
}
interface Hook {
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('job notifications', () => {
  const mails: Mail[] = [];
  const hooks: Hook[] = [];
  let smtp: SMTPServer;
  let web: http.Server;
  let ctx: JobsContext;
  let hookUrl: string;

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, session, cb) {
        let raw = '';
        stream.on('data', (d) => (raw += d));
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), raw });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    web = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}/hook`;
    ctx = await createJobsContext({
      configure: (c) => {
        c.smtp = { host: '127.0.0.1', port: smtpPort, secure: false, from: 'longhaul@test.local' };
        c.publicUrl = 'https://jobs.test.local';
      },
    });
  });

  afterAll(async () => {
    await ctx?.close();
    await new Promise<void>((r) => smtp.close(() => r()));
    await new Promise<void>((r) => web.close(() => r()));
  });

  it('emails and posts a signed webhook when a job finishes', async () => {
    const jobId = await ctx.submit({
      tool: 'slow_div',
      input: { x: 8, y: 2 },
      notify: { email: 'sam@test.local', webhook: hookUrl },
    });
    const s = await ctx.finished(jobId);
    expect(s.state).toBe('succeeded');
    const mail = await eventually(async () => mails.find((m) => m.raw.includes(jobId)));
    expect(mail.to).toBe('sam@test.local');
    expect(mail.raw).toMatch(/Subject: .*succeeded/);
    const hook = await eventually(async () => hooks.find((h) => h.body.includes(jobId)));
    expect(hook.headers['x-longhaul-event']).toBe('job.finished');
    expect(verifyWebhookSignature(TEST_SECRET, hook.body, hook.headers['x-longhaul-signature'])).toBe(true);
    expect(verifyWebhookSignature('another-secret-0123456789', hook.body, hook.headers['x-longhaul-signature'])).toBe(
      false,
    );
    const body = JSON.parse(hook.body);
    expect(body.job).toMatchObject({ jobId, state: 'succeeded', result: { value: '4' } });
  });

  it('reports failures too', async () => {
    const jobId = await ctx.submit({ tool: 'slow_div', input: { x: 8, y: 0 }, notify: { webhook: hookUrl } });
    await ctx.finished(jobId);
    const hook = await eventually(async () => hooks.find((h) => h.body.includes(jobId)));
    expect(JSON.parse(hook.body).job).toMatchObject({ state: 'failed', error: { exitCode: 2 } });
  });

  it('sends review requests with signed, expiring Approve and Reject links', async () => {
    const jobId = await ctx.submit({
      tool: 'slow_div',
      input: { x: 8, y: 4 },
      review: { timeout: '2d', notify: { email: 'rita@test.local', webhook: hookUrl } },
    });
    const mail = await eventually(async () => mails.find((m) => m.to === 'rita@test.local' && m.raw.includes(jobId)));
    const hook = await eventually(async () =>
      hooks.find((h) => h.body.includes(jobId) && h.headers['x-longhaul-event'] === 'job.review_requested'),
    );
    const links = JSON.parse(hook.body).links as { approve: string; reject: string };
    expect(links.approve).toMatch(/^https:\/\/jobs\.test\.local\/v1\/reviews\//);
    // Quoted-printable may wrap long lines in the mail; compare without soft breaks.
    expect(mail.raw.replace(/=\r?\n/g, '')).toContain(links.approve.slice(-40));
    const approve = verifyReviewToken(TEST_SECRET, links.approve.split('/').pop()!);
    const reject = verifyReviewToken(TEST_SECRET, links.reject.split('/').pop()!);
    expect(approve).toMatchObject({ ok: true, claims: { jobId, stepId: 'review', decision: 'approve' } });
    expect(reject).toMatchObject({ ok: true, claims: { decision: 'reject' } });
    const exp = (approve as { claims: { expiresAt: number } }).claims.expiresAt;
    expect(exp - Date.now()).toBeGreaterThan(86_400_000);
    expect(exp - Date.now()).toBeLessThanOrEqual(2 * 86_400_000);
    // The link's claims name the review step: deciding it through the update completes the job.
    await ctx.client.workflow.getHandle(jobId).executeUpdate(reviewUpdate, {
      args: [{ decision: 'approve', stepId: 'review', reviewer: 'link' }],
    });
    expect((await ctx.finished(jobId)).state).toBe('succeeded');
  });
});
