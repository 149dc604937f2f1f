// Unauthenticated operational endpoints: /healthz (the process answers), /readyz (Temporal answers too, so a load
// balancer stops sending traffic while it is unreachable) and /metrics (Prometheus text).
import { Router } from 'express';
import type { ApiDeps } from './deps';
import { apiMetrics } from './metrics';
import { sendProblem } from './problem';

/** How long /readyz waits for Temporal before calling the API not ready. */
const READY_TIMEOUT_MS = 2000;

export function healthRoutes(deps: ApiDeps): Router {
  const router = Router();
  const metrics = apiMetrics(deps);
  // The address actually dialled (tests connect elsewhere than the config's default).
  const address: string =
    (deps.client.connection as { options?: { address?: string } }).options?.address ?? deps.config.temporalAddress;

  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });

  router.get('/readyz', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    let timer: NodeJS.Timeout | undefined;
    try {
      const call = deps.client.connection.withDeadline(Date.now() + READY_TIMEOUT_MS, () =>
        deps.client.workflowService.getSystemInfo({}),
      );
      // The gRPC deadline should fire first; the timer is a backstop in case connecting itself hangs.
      const backstop = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), READY_TIMEOUT_MS + 500);
      });
      await Promise.race([call, backstop]);
      res.json({ status: 'ready', temporal: address });
    } catch (err) {
      req.log?.warn({ err }, 'readiness check failed');
      sendProblem(res, 503, `Temporal at ${address} did not answer: ${(err as Error)?.message ?? err}`, {
        headers: { 'Retry-After': '5' },
      });
    } finally {
      clearTimeout(timer);
    }
  });

  router.get('/metrics', async (_req, res, next) => {
    try {
      const text = await metrics.registry.metrics();
      res.set('Content-Type', metrics.registry.contentType).set('Cache-Control', 'no-store').send(text);
    } catch (err) {
      next(err);
    }
  });

  return router;
}
