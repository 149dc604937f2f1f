// Placeholder until the OpenAPI document is written.
import type { LongHaulConfig } from '../config/load';

export function openApiDocument(_config: LongHaulConfig): Record<string, unknown> {
  return { openapi: '3.1.0', info: { title: 'longhaul', version: '1' }, paths: {} };
}
