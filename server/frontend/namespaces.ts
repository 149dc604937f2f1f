// System and namespace RPCs.
import { invalidArgument } from '../grpc';
import type { Handler } from '../grpc';
import type { NamespaceInfo } from '../namespaces';
import { durationMs, enums, msToDuration } from '../proto';
import { SERVER_VERSION, type ServerContext } from '../context';

function describe(ns: NamespaceInfo): any {
  return {
    namespaceInfo: {
      name: ns.name,
      id: ns.id,
      state: enums.NamespaceState.NAMESPACE_STATE_REGISTERED,
      description: ns.description,
      ownerEmail: ns.ownerEmail,
      data: ns.data,
      supportsSchedules: true,
      capabilities: { eagerWorkflowStart: true, syncUpdate: true, asyncUpdate: true },
    },
    config: {
      workflowExecutionRetentionTtl: msToDuration(ns.retentionMs),
      historyArchivalState: enums.ArchivalState.ARCHIVAL_STATE_DISABLED,
      visibilityArchivalState: enums.ArchivalState.ARCHIVAL_STATE_DISABLED,
    },
    replicationConfig: { activeClusterName: 'active', clusters: [{ clusterName: 'active' }] },
    isGlobalNamespace: false,
  };
}

export function namespaceHandlers(ctx: ServerContext): Record<string, Handler> {
  return {
    GetSystemInfo: () => ({
      serverVersion: SERVER_VERSION,
      capabilities: {
        signalAndQueryHeader: true,
        internalErrorDifferentiation: true,
        activityFailureIncludeHeartbeat: true,
        supportsSchedules: true,
        encodedFailureAttributes: true,
        buildIdBasedVersioning: false,
        upsertMemo: true,
        eagerWorkflowStart: true,
        sdkMetadata: true,
        countGroupByExecutionStatus: true,
        nexus: false,
      },
    }),
    GetClusterInfo: () => ({
      supportedClients: {},
      serverVersion: SERVER_VERSION,
      clusterId: 'longhaul',
      clusterName: 'active',
      historyShardCount: 1,
      persistenceStore: 'sqlite',
      visibilityStore: 'sqlite',
      versionInfo: { current: { version: SERVER_VERSION } },
      failoverVersionIncrement: 10,
      initialFailoverVersion: 1,
      isGlobalNamespaceEnabled: false,
    }),
    DescribeNamespace: (req) => {
      if (req.id) {
        const ns = ctx.namespaces.byId(req.id);
        if (!ns) throw invalidArgument(`Namespace id ${req.id} is not found.`);
        return describe(ns);
      }
      if (!req.namespace) throw invalidArgument('Namespace not set on request.');
      return describe(ctx.namespaces.get(req.namespace));
    },
    ListNamespaces: () => ({ namespaces: ctx.namespaces.list().map(describe) }),
    RegisterNamespace: async (req) => {
      if (!req.namespace) throw invalidArgument('Namespace not set on request.');
      if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,254}$/.test(req.namespace)) {
        throw invalidArgument(
          `Namespace "${req.namespace}" is invalid: use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 255).`,
        );
      }
      ctx.namespaces.register({
        name: req.namespace,
        description: req.description,
        ownerEmail: req.ownerEmail,
        retentionMs: durationMs(req.workflowExecutionRetentionPeriod),
        data: req.data,
      });
      await ctx.store.commit();
      return {};
    },
  };
}
