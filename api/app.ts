// The HTTP API (express), versioned at /v1. Order matters: request ids, logs and request metrics first;
// unauthenticated routes (health, metrics, OpenAPI, signed review links); then bearer auth, the per-client rate
// limit and the JSON body parser with its size limit; then the job routes; problem+json for anything that goes wrong.
import express, { type Express } from 'express';
import { randomUUID } from 'node:crypto';
import { pinoHttp } from 'pino-http';
import { requireAuth } from './auth';
import type { ApiDeps } from './deps';
import { healthRoutes } from './health';
import { apiMetrics, httpMetrics } from './metrics';
import { openApiDocument } from './openapi';
import { errorHandler, notFound } from './problem';
import { rateLimit } from './rate-limit';
import { catalogRoutes } from './routes/catalog';
import { eventsRoutes } from './routes/events';
import { filesRoutes } from './routes/files';
import { jobsRoutes } from './routes/jobs';
import { reviewLinkRoutes } from './routes/reviews';

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Never log credentials.
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      // Signed review links carry their credential in the path.
      serializers: {
        req: (r: { url?: string }) => {
          if (r.url) r.url = r.url.replace(/^\/v1\/reviews\/[^/?#]+/, '/v1/reviews/[token]');
          return r;
        },
      },
    }),
  );
  app.use(httpMetrics(apiMetrics(deps)));

  app.use(healthRoutes(deps));
  const doc = openApiDocument(deps.config);
  app.get('/v1/openapi.json', (_req, res) => {
    res.json(doc);
  });
  // Review links carry their own credential; a per-address limit keeps anyone from hammering them.
  app.use('/v1/reviews', rateLimit(deps.options?.reviewLinksPerMinute ?? 60), reviewLinkRoutes(deps));

  const v1 = express.Router();
  v1.use(requireAuth(deps.tokens));
  v1.use(rateLimit(deps.options?.rateLimitPerMinute ?? deps.config.raw.api?.rateLimitPerMinute ?? 600));
  v1.use(express.json({ limit: deps.options?.maxBodyBytes ?? deps.config.raw.api?.maxBodyBytes ?? 1024 * 1024 }));
  v1.use(catalogRoutes(deps));
  v1.use(jobsRoutes(deps));
  v1.use(eventsRoutes(deps));
  v1.use(filesRoutes(deps));
  app.use('/v1', v1);

  app.use(notFound);
  app.use(errorHandler);
  return app;
}
