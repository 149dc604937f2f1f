// Schedule RPCs: create, describe, update, patch (trigger, backfill, pause, unpause), delete, list,
// count and matching times. The schedules themselves live in schedules/scheduler.ts.
import { invalidArgument, type Handler } from '../grpc';
import { msToTimestamp, timestampMs } from '../proto';
import type { ServerContext } from '../context';
import type { Schedules } from '../schedules/scheduler';

type Filter = (rec: { scheduleId: string; paused: boolean }) => boolean;

/**
 * The list filter: empty, or `AND`-joined equalities on ScheduleId (also WorkflowId, which Temporal
 * rewrites to it) and TemporalSchedulePaused.
 */
export function parseScheduleQuery(query: string | null | undefined): Filter {
  const q = (query ?? '').trim();
  if (!q) return () => true;
  const tests: Filter[] = [];
  for (const clause of q.split(/\s+AND\s+/i)) {
    const m = /^\(?\s*(\w+)\s*=\s*(?:'([^']*)'|"([^"]*)"|(\w+))\s*\)?$/.exec(clause.trim());
    if (!m) throw invalidArgument(`unsupported schedule list query: ${q}`);
    const [, field, s1, s2, bare] = m;
    const value = s1 ?? s2 ?? bare;
    if (field === 'ScheduleId' || field === 'WorkflowId') {
      tests.push((r) => r.scheduleId === value);
    } else if (field === 'TemporalSchedulePaused') {
      if (!/^(true|false)$/i.test(value)) throw invalidArgument(`invalid value for TemporalSchedulePaused: ${value}`);
      const want = value.toLowerCase() === 'true';
      tests.push((r) => r.paused === want);
    } else {
      throw invalidArgument(`unsupported schedule list query field: ${field}`);
    }
  }
  return (r) => tests.every((t) => t(r));
}

export function scheduleHandlers(ctx: ServerContext, schedules: Schedules): Record<string, Handler> {
  const { store } = ctx;
  const nsOf = (req: any) => ctx.namespaces.get(req.namespace).name;

  return {
    CreateSchedule: async (req) => {
      const conflictToken = schedules.create(nsOf(req), req);
      await store.commit();
      return { conflictToken };
    },

    DescribeSchedule: async (req) => {
      const res = schedules.describe(nsOf(req), req.scheduleId);
      await store.commit();
      return res;
    },

    UpdateSchedule: async (req) => {
      schedules.update(nsOf(req), req);
      await store.commit();
      return {};
    },

    PatchSchedule: async (req) => {
      schedules.patch(nsOf(req), req);
      await store.commit();
      return {};
    },

    DeleteSchedule: async (req) => {
      schedules.delete(nsOf(req), req.scheduleId);
      await store.commit();
      return {};
    },

    ListSchedules: async (req) => {
      const ns = nsOf(req);
      const filter = parseScheduleQuery(req.query);
      const pageSize = req.maximumPageSize > 0 ? Math.min(req.maximumPageSize, 1000) : 1000;
      const after = req.nextPageToken?.length ? Buffer.from(req.nextPageToken).toString() : null;
      const { entries, next } = schedules.list(ns, filter, pageSize, after);
      await store.commit();
      return { schedules: entries, nextPageToken: next !== null ? Buffer.from(next) : undefined };
    },

    CountSchedules: async (req) => {
      const count = schedules.count(nsOf(req), parseScheduleQuery(req.query));
      await store.commit();
      return { count };
    },

    ListScheduleMatchingTimes: async (req) => {
      if (!req.startTime || !req.endTime) throw invalidArgument('StartTime and EndTime must be set on request.');
      const times = schedules.matchingTimes(
        nsOf(req),
        req.scheduleId,
        timestampMs(req.startTime),
        timestampMs(req.endTime),
      );
      await store.commit();
      return { startTime: times.map(msToTimestamp) };
    },
  };
}
