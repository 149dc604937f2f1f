// Prometheus metrics (prom-client). Each app gets its own Registry, not prom-client's global one, so several apps
// in one process (tests) neither collide nor share counts. Routes reach the metrics through `apiMetrics(deps)`.
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { ApiDeps } from './deps';

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Incremented by POST /v1/jobs (and retry) when a job is created: `inc({ kind, name })`. */
  jobsSubmitted: Counter<'kind' | 'name'>;
}

const byDeps = new WeakMap<ApiDeps, ApiMetrics>();

/** The metrics of the app built from `deps` (created on first use). */
export function apiMetrics(deps: ApiDeps): ApiMetrics {
  let m = byDeps.get(deps);
  if (!m) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    m = {
      registry,
      httpRequests: new Counter({
        name: 'longhaul_http_requests_total',
        help: 'HTTP requests answered, by method, route pattern and status',
        labelNames: ['method', 'route', 'status'],
        registers: [registry],
      }),
      httpDuration: new Histogram({
        name: 'longhaul_http_request_duration_seconds',
        help: 'Time to answer HTTP requests (for streams: until the stream ended)',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
      jobsSubmitted: new Counter({
        name: 'longhaul_jobs_submitted_total',
        help: 'Jobs created through the API, by kind (tool or pipeline) and name',
        labelNames: ['kind', 'name'],
        registers: [registry],
      }),
    };
    byDeps.set(deps, m);
  }
  return m;
}

const ROUTE_BASE = Symbol('longhaul.routeBase');

/** Counts and times every request, labelled with the matched route pattern (e.g. /v1/jobs/:id) rather than the
 * raw URL, so ids and tokens never become label values. */
export function httpMetrics(metrics: ApiMetrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    // The router sets req.route on a match; record the mount path at that moment, because by the time the response
    // finishes an error may have left the sub-router and reset req.baseUrl.
    let route: { path?: unknown } | undefined;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => route,
      set(v) {
        route = v;
        (req as any)[ROUTE_BASE] = req.baseUrl;
      },
    });
    let recorded = false;
    const done = () => {
      if (recorded) return;
      recorded = true;
      const pattern =
        route && typeof route.path === 'string' ? `${(req as any)[ROUTE_BASE] ?? ''}${route.path}` : '(unmatched)';
      const labels = { method: req.method, route: pattern, status: String(res.statusCode) };
      metrics.httpRequests.inc(labels);
      end(labels);
    };
    // 'close' alone covers clients that hang up (event streams); whichever comes first counts.
    res.once('finish', done);
    res.once('close', done);
    next();
  };
}
