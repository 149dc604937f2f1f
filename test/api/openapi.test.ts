// GET /v1/openapi.json: a valid OpenAPI 3.1 document describing every route the app registers.
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useApiContext } from '../helpers/api';
import { eventually } from '../helpers/jobs';

type Doc = { paths: Record<string, Record<string, any>>; components: Record<string, any>; security: unknown[] };

/** The endpoints, as OpenAPI path templates. */
const ENDPOINTS: [string, string][] = [
  ['post', '/v1/jobs'],
  ['get', '/v1/jobs'],
  ['get', '/v1/jobs/{id}'],
  ['post', '/v1/jobs/{id}/cancel'],
  ['post', '/v1/jobs/{id}/review'],
  ['post', '/v1/jobs/{id}/retry'],
  ['get', '/v1/jobs/{id}/events'],
  ['get', '/v1/jobs/{id}/logs'],
  ['get', '/v1/jobs/{id}/artifacts'],
  ['get', '/v1/jobs/{id}/artifacts/{name}'],
  ['get', '/v1/reviews/{token}'],
  ['post', '/v1/reviews/{token}'],
  ['get', '/v1/tools'],
  ['get', '/v1/tools/{name}'],
  ['get', '/v1/pipelines'],
  ['get', '/v1/pipelines/{name}'],
  ['get', '/v1/openapi.json'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
];
const UNAUTHENTICATED = ['/healthz', '/readyz', '/metrics', '/v1/openapi.json', '/v1/reviews/{token}'];

/** Every [method, path] an express app (or router) registers, with mount paths prepended; `:x` and the wildcard
 * `*x` (a name with slashes) become `{x}`. */
function registeredRoutes(router: { stack: any[] }, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const layer of router.stack) {
    if (layer.route) {
      const full = (prefix + layer.route.path).replace(/[:*](\w+)/g, '{$1}');
      for (const [m, on] of Object.entries(layer.route.methods)) if (on && m !== '_all') out.push([m, full]);
    } else if (Array.isArray(layer.handle?.stack)) {
      const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      out.push(...registeredRoutes(layer.handle, prefix + mount));
    }
  }
  return out;
}

describe('OpenAPI document', () => {
  const ctx = useApiContext();

  async function fetchDoc(): Promise<Doc> {
    const res = await request(ctx.app).get('/v1/openapi.json').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    return res.body;
  }

  it('is served without a token and is valid OpenAPI 3.1', async () => {
    const doc = await fetchDoc();
    expect((doc as any).openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as any);
  });

  it('describes every endpoint of the issue', async () => {
    const doc = await fetchDoc();
    for (const [method, path] of ENDPOINTS) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });

  it('describes every route the app registers', async () => {
    const doc = await fetchDoc();
    const routes = registeredRoutes((ctx.app as any).router);
    // Sanity: the walk found the routes this file's neighbours own.
    expect(routes).toContainEqual(['get', '/v1/tools/{name}']);
    expect(routes).toContainEqual(['get', '/readyz']);
    for (const [method, path] of routes) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
  });

  it('marks exactly the public endpoints as unauthenticated', async () => {
    const doc = await fetchDoc();
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (method === 'parameters') continue;
        if (UNAUTHENTICATED.includes(path)) expect(op.security, `${method} ${path}`).toEqual([]);
        else {
          expect(op.security, `${method} ${path}`).toBeUndefined();
          expect(op.responses['401'], `${method} ${path}`).toBeDefined();
          expect(op.responses['429'], `${method} ${path}`).toBeDefined();
        }
      }
    }
  });

  it('uses problem+json for errors, with Retry-After on 429', async () => {
    const doc = await fetchDoc();
    const { responses, schemas } = doc.components;
    for (const name of ['BadRequest', 'Unauthorized', 'NotFound', 'Conflict', 'ContentTooLarge', 'TooManyRequests']) {
      expect(responses[name].content['application/problem+json'].schema).toEqual({
        $ref: '#/components/schemas/Problem',
      });
    }
    expect(responses.TooManyRequests.headers['Retry-After']).toBeDefined();
    expect(schemas.Problem.properties.errors.items.required).toEqual(['field', 'message']);
    const submit = doc.paths['/v1/jobs'].post;
    for (const status of ['201', '400', '401', '413', '415', '422', '429', '503']) {
      expect(submit.responses[status], status).toBeDefined();
    }
    expect(doc.paths['/v1/jobs/{id}/review'].post.responses['409']).toBeDefined();
  });

  it('names the configured tools and pipelines, and the job id pattern', async () => {
    const doc = await fetchDoc();
    const submit = doc.components.schemas.SubmitRequest;
    expect(submit.properties.tool.enum).toEqual([...ctx.jobs.config.tools.keys()]);
    expect(submit.properties.pipeline.enum).toEqual([...ctx.jobs.config.pipelines.keys()]);
    const pattern = new RegExp(doc.components.parameters.JobId.schema.pattern);
    expect(pattern.test('bkrt-vmqz-hdnf-sgxp-cwjt')).toBe(true);
    expect(pattern.test('bkrt-vmqz-hdnf-sgxp-cwja')).toBe(false);
    const events = doc.paths['/v1/jobs/{id}/events'].get;
    expect(Object.keys(events.responses['200'].content)).toEqual(['text/event-stream']);
    expect(events.parameters).toContainEqual({ $ref: '#/components/parameters/LastEventId' });
    const artifact = doc.paths['/v1/jobs/{id}/artifacts/{name}'].get;
    expect(artifact.responses['206']).toBeDefined();
    expect(artifact.parameters).toContainEqual({ $ref: '#/components/parameters/Range' });
  });

  it('matches what the API answers', async () => {
    const doc = await fetchDoc();
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    // The document as a schema root, so `#/components/schemas/…` references resolve inside it.
    ajv.addSchema({ $id: 'longhaul:openapi', components: doc.components });
    const check = (what: string, res: { body: unknown }, schema: string) => {
      const validate = ajv.getSchema(`longhaul:openapi#/components/schemas/${schema}`)!;
      expect(validate(res.body), `${what}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    };
    // The schemas do constrain: a job without an id is not a Job.
    expect(ajv.getSchema('longhaul:openapi#/components/schemas/Job')!({ state: 'running' })).toBe(false);
    const get = (url: string) => request(ctx.app).get(url).set(ctx.auth('alice'));

    const tools = await get('/v1/tools').expect(200);
    for (const t of tools.body.items) check('a tool', { body: t }, 'Tool');
    const pipelines = await get('/v1/pipelines').expect(200);
    for (const p of pipelines.body.items) check('a pipeline', { body: p }, 'Pipeline');

    const created = await request(ctx.app)
      .post('/v1/jobs')
      .set(ctx.auth('alice'))
      .send({ tool: 'slow_div', input: { x: 8, y: 2 }, labels: { run: 'openapi' } })
      .expect(201);
    check('POST /v1/jobs', created, 'Job');
    const id = created.body.id;
    const done = await eventually(async () => {
      const r = await get(`/v1/jobs/${id}`);
      return r.body.state === 'succeeded' && r;
    });
    check('GET /v1/jobs/{id}', done, 'Job');
    check('GET /v1/jobs', await get('/v1/jobs?label=run=openapi').expect(200), 'JobList');
    check('GET artifacts', await get(`/v1/jobs/${id}/artifacts`).expect(200), 'ArtifactList');

    check('404', await get('/v1/jobs/bkrt-vmqz-hdnf-sgxp-cwjt').expect(404), 'Problem');
    const invalid = await request(ctx.app)
      .post('/v1/jobs')
      .set(ctx.auth('alice'))
      .send({ tool: 'slow_div', input: { x: 'eight' } })
      .expect(422);
    check('422', invalid, 'Problem');
    expect(invalid.body.errors.length).toBeGreaterThan(0);
  });
});
