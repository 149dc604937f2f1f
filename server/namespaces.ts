// Namespaces: registered at start (--namespace) or by RegisterNamespace; persisted in the store.
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ApiError, notFound } from './grpc';
import type { Store } from './store/store';

export interface NamespaceInfo {
  name: string;
  id: string;
  description: string;
  ownerEmail: string;
  retentionMs: number;
  data: Record<string, string>;
  registeredAt: number;
}

const DEFAULT_RETENTION_MS = 24 * 3600 * 1000;

export class Namespaces {
  private byName = new Map<string, NamespaceInfo>();

  constructor(private readonly store: Store) {
    for (const row of store.loadNamespaces()) this.byName.set(row.name, JSON.parse(row.data));
  }

  /** Make sure a namespace exists (server flags); no error when it already does. */
  ensure(name: string): NamespaceInfo {
    return this.byName.get(name) ?? this.register({ name });
  }

  register(p: {
    name: string;
    description?: string;
    ownerEmail?: string;
    retentionMs?: number;
    data?: Record<string, string>;
  }): NamespaceInfo {
    if (this.byName.has(p.name)) throw new ApiError(grpc.status.ALREADY_EXISTS, `Namespace ${p.name} already exists.`);
    const ns: NamespaceInfo = {
      name: p.name,
      id: randomUUID(),
      description: p.description ?? '',
      ownerEmail: p.ownerEmail ?? '',
      retentionMs: p.retentionMs || DEFAULT_RETENTION_MS,
      data: p.data ?? {},
      registeredAt: Date.now(),
    };
    this.byName.set(ns.name, ns);
    this.store.saveNamespace({ name: ns.name, id: ns.id, data: JSON.stringify(ns) });
    return ns;
  }

  /** The namespace, or NOT_FOUND in Temporal's words. */
  get(name: string): NamespaceInfo {
    const ns = this.byName.get(name || 'default');
    if (!ns) throw notFound(`Namespace ${name} is not found.`);
    return ns;
  }

  byId(id: string): NamespaceInfo | undefined {
    for (const ns of this.byName.values()) if (ns.id === id) return ns;
    return undefined;
  }

  list(): NamespaceInfo[] {
    return [...this.byName.values()];
  }
}
