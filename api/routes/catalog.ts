// GET /v1/tools and /v1/pipelines: what a client may submit, with input schemas. Only what a client needs is shown:
// never command lines, environment, HTTP targets or reviewers' addresses, which are the operator's business.
import { Router } from 'express';
import type { LoadedPipeline, LoadedTool } from '../../config/load';
import type { ReviewSpec } from '../../workflows/types';
import type { ApiDeps } from '../deps';
import { HttpProblem } from '../problem';

export function catalogRoutes(deps: ApiDeps): Router {
  const router = Router();
  const { tools, pipelines } = deps.config;
  // Config is fixed for the life of the app, so the answers are built once.
  const toolList = [...tools.entries()].map(([name, t]) => apiTool(name, t));
  const pipelineList = [...pipelines.entries()].map(([name, p]) => apiPipeline(name, p));

  router.get('/tools', (_req, res) => {
    res.json({ items: toolList });
  });
  router.get('/tools/:name', (req, res) => {
    const t = tools.get(req.params.name);
    if (!t) throw new HttpProblem(404, 'Not Found', `no tool ${JSON.stringify(req.params.name)}`);
    res.json(apiTool(req.params.name, t));
  });
  router.get('/pipelines', (_req, res) => {
    res.json({ items: pipelineList });
  });
  router.get('/pipelines/:name', (req, res) => {
    const p = pipelines.get(req.params.name);
    if (!p) throw new HttpProblem(404, 'Not Found', `no pipeline ${JSON.stringify(req.params.name)}`);
    res.json(apiPipeline(req.params.name, p));
  });
  return router;
}

function apiReview(r: ReviewSpec | undefined): Record<string, unknown> | undefined {
  if (!r) return undefined;
  const { timeout, default: byDefault, message } = r;
  return { timeout, default: byDefault, message };
}

function apiTool(name: string, t: LoadedTool): Record<string, unknown> {
  const s = t.spec;
  return {
    name,
    description: s.description,
    kind: s.kind,
    inputSchema: t.inputSchema,
    resources: s.resources ?? {},
    review: apiReview(s.review),
  };
}

function apiPipeline(name: string, p: LoadedPipeline): Record<string, unknown> {
  return {
    name,
    description: p.spec.description,
    inputSchema: p.inputSchema,
    steps: p.spec.steps.map((s) => ({
      id: s.id,
      tool: s.tool,
      review: apiReview(s.review),
      after: s.after ?? [],
      forEach: s.forEach,
    })),
  };
}
