// Schedule specs: canonicalization (cron strings and string calendars become structured calendars
// and intervals, the way Temporal stores and describes them), validation, and the next matching
// time. Times have one-second resolution, as in Temporal. Jitter is accepted and stored but not
// applied: every action runs at its nominal time.
import { invalidArgument } from '../grpc';
import { durationMs, msToDuration, timestampMs } from '../proto';

export interface Range {
  start: number;
  end: number;
  step: number;
}

export interface StructuredCalendar {
  second: Range[];
  minute: Range[];
  hour: Range[];
  dayOfMonth: Range[];
  month: Range[];
  /** Empty means every year. */
  year: Range[];
  dayOfWeek: Range[];
  comment: string;
}

/** The canonical spec: what is stored and what DescribeSchedule returns. */
export interface CanonicalSpec {
  structuredCalendar: StructuredCalendar[];
  interval: Array<{ interval: any; phase: any }>;
  excludeStructuredCalendar: StructuredCalendar[];
  startTime?: any;
  endTime?: any;
  jitter?: any;
  timezoneName?: string;
}

const MIN_YEAR = 2000;
const MAX_YEAR = 2100;
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october'];
MONTHS.push('november', 'december');
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

type Mode = 'int' | 'month' | 'dow' | 'year';

function specError(msg: string): Error {
  return invalidArgument(`Invalid schedule spec: ${msg}`);
}

function parseValue(s: string, min: number, max: number, mode: Mode): number | null {
  const lower = s.toLowerCase();
  if (mode === 'month' && lower.length >= 3) {
    const i = MONTHS.findIndex((m) => m.startsWith(lower));
    if (i >= 0) return i + 1 >= min && i + 1 <= max ? i + 1 : null;
  }
  if (mode === 'dow' && lower.length >= 2) {
    const i = DAYS.findIndex((d) => d.startsWith(lower));
    if (i >= 0) return i >= min && i <= max ? i : null;
  }
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  return n >= min && n <= max ? n : null;
}

/** One field of a string calendar ("*", "1-5/2,8", "mon-fri", ...) as ranges. */
function parseField(raw: string, field: string, def: string, min: number, max: number, mode: Mode): Range[] {
  const s = raw.trim() || def;
  if (s === '*' && mode === 'year') return [];
  const out: Range[] = [];
  for (let part of s.split(',')) {
    let step = 1;
    let hasStep = false;
    const slash = part.split('/');
    if (slash.length > 2) throw specError(`${field} has too many slashes`);
    if (slash.length === 2) {
      if (!/^\d+$/.test(slash[1]) || Number(slash[1]) < 1) throw specError(`${field} has invalid Step`);
      step = Number(slash[1]);
      hasStep = true;
      part = slash[0];
    }
    let start = min;
    let end = max;
    if (part !== '*') {
      const dash = part.split('-');
      if (dash.length > 2) throw specError(`${field} has too many dashes`);
      if (dash.length === 2) {
        const a = parseValue(dash[0], min, max, mode);
        if (a === null) throw specError(`${field} Start is not in range [${min}-${max}]`);
        const b = parseValue(dash[1], a, max, mode);
        if (b === null) throw specError(`${field} End is before Start or not in range [${min}-${max}]`);
        [start, end] = [a, b];
      } else {
        const a = parseValue(part, min, max, mode);
        if (a === null) throw specError(`${field} is not in range [${min}-${max}]`);
        start = a;
        // "x/y" means x to the maximum by y; a bare "x" is just x.
        end = hasStep ? max : a;
      }
    }
    // Day of week 7 is Sunday (0).
    if (mode === 'dow' && end === 7) {
      if (step === 1 && start <= 1) {
        start = 0;
      } else if ((7 - start) % step === 0) {
        out.push({ start: 0, end: 0, step: 1 });
        if (start === 7) continue;
      }
      end = 6;
    }
    out.push({ start, end, step });
  }
  return out;
}

function calendarFromStrings(cal: any): StructuredCalendar {
  return {
    second: parseField(cal.second ?? '', 'Second', '0', 0, 59, 'int'),
    minute: parseField(cal.minute ?? '', 'Minute', '0', 0, 59, 'int'),
    hour: parseField(cal.hour ?? '', 'Hour', '0', 0, 23, 'int'),
    dayOfMonth: parseField(cal.dayOfMonth ?? '', 'DayOfMonth', '*', 1, 31, 'int'),
    month: parseField(cal.month ?? '', 'Month', '*', 1, 12, 'month'),
    year: parseField(cal.year ?? '', 'Year', '*', MIN_YEAR, MAX_YEAR, 'year'),
    dayOfWeek: parseField(cal.dayOfWeek ?? '', 'DayOfWeek', '*', 0, 7, 'dow'),
    comment: cal.comment ?? '',
  };
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "90s", "1h30m", "2d" → ms. */
function parseDuration(s: string): number {
  const parts = [...s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== s) throw specError(`invalid duration "${s}"`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]], 0);
}

/** A cron string: 5-7 fields, @hourly-style shorthands, @every interval[/phase], TZ= prefix, # comment. */
function parseCron(input: string): { calendar?: StructuredCalendar; interval?: any; tz: string } {
  let c = input.trim();
  let tz = '';
  const tzm = /^(?:CRON_TZ|TZ)=(\S*)(?:\s+|$)/.exec(c);
  if (tzm) {
    tz = tzm[1];
    c = c.slice(tzm[0].length);
    if (!c) throw specError('CronString has time zone but missing fields');
  }
  const hash = c.indexOf('#');
  const comment = hash >= 0 ? c.slice(hash + 1).trim() : '';
  if (hash >= 0) c = c.slice(0, hash).trim();
  if (c.startsWith('@every')) {
    const rest = c.slice('@every'.length).trim();
    if (!rest) throw specError('CronString does not have interval after @every');
    const [iv, phase] = rest.split('/');
    return {
      interval: { interval: msToDuration(parseDuration(iv)), phase: phase ? msToDuration(parseDuration(phase)) : null },
      tz: '',
    };
  }
  const shorthand: Record<string, string> = {
    '@yearly': '0 0 1 1 *',
    '@annually': '0 0 1 1 *',
    '@monthly': '0 0 1 * *',
    '@weekly': '0 0 * * 0',
    '@daily': '0 0 * * *',
    '@midnight': '0 0 * * *',
    '@hourly': '0 * * * *',
  };
  c = shorthand[c] ?? c;
  const f = c.split(/\s+/).filter(Boolean);
  let cal: Record<string, string>;
  if (f.length === 5) cal = { minute: f[0], hour: f[1], dayOfMonth: f[2], month: f[3], dayOfWeek: f[4] };
  else if (f.length === 6)
    cal = { minute: f[0], hour: f[1], dayOfMonth: f[2], month: f[3], dayOfWeek: f[4], year: f[5] };
  else if (f.length === 7)
    cal = { second: f[0], minute: f[1], hour: f[2], dayOfMonth: f[3], month: f[4], dayOfWeek: f[5], year: f[6] };
  else throw specError(`CronString "${input}" does not have 5-7 fields`);
  return { calendar: calendarFromStrings({ ...cal, comment }), tz };
}

/** Ranges with end < start or step 0 normalized (what Temporal's describe shows). */
function cleanCalendar(c: any): StructuredCalendar {
  const clean = (rs: any[] | null | undefined): Range[] =>
    (rs ?? []).map((r) => {
      const start = r.start ?? 0;
      return { start, end: Math.max(r.end ?? 0, start), step: r.step || 1 };
    });
  return {
    second: clean(c.second),
    minute: clean(c.minute),
    hour: clean(c.hour),
    dayOfMonth: clean(c.dayOfMonth),
    month: clean(c.month),
    year: clean(c.year),
    dayOfWeek: clean(c.dayOfWeek),
    comment: c.comment ?? '',
  };
}

function validateCalendar(c: StructuredCalendar): void {
  const errs: string[] = [];
  const check = (rs: Range[], field: string, min: number, max: number) => {
    for (const r of rs) {
      if (r.start < min || r.start > max) errs.push(`${field} Start is not in range [${min}-${max}]`);
      if (r.end < r.start || r.end > max) errs.push(`${field} End is before Start or not in range [${min}-${max}]`);
      if (r.step < 0) errs.push(`${field} has invalid Step`);
    }
  };
  check(c.second, 'Second', 0, 59);
  check(c.minute, 'Minute', 0, 59);
  check(c.hour, 'Hour', 0, 23);
  check(c.dayOfMonth, 'DayOfMonth', 1, 31);
  check(c.month, 'Month', 1, 12);
  check(c.year, 'Year', MIN_YEAR, MAX_YEAR);
  check(c.dayOfWeek, 'DayOfWeek', 0, 6);
  if (errs.length) throw specError(`invalid calendar spec: ${errs.join(', ')}`);
}

function checkTimezone(tz: string): void {
  if (!tz || tz === 'UTC') return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw specError(`unknown time zone ${tz}`);
  }
}

/** Temporal's canonical form of a ScheduleSpec; throws INVALID_ARGUMENT ("Invalid schedule spec: …"). */
export function canonicalizeSpec(spec: any): CanonicalSpec {
  spec = spec ?? {};
  const structured: StructuredCalendar[] = (spec.structuredCalendar ?? []).map(cleanCalendar);
  const intervals: Array<{ interval: any; phase: any }> = (spec.interval ?? []).map((i: any) => ({
    interval: i.interval ?? null,
    phase: i.phase ?? null,
  }));
  const excludes: StructuredCalendar[] = (spec.excludeStructuredCalendar ?? []).map(cleanCalendar);
  for (const cal of spec.calendar ?? []) structured.push(calendarFromStrings(cal));
  for (const cal of spec.excludeCalendar ?? []) excludes.push(calendarFromStrings(cal));
  let tz: string = spec.timezoneName ?? '';
  let cronTz: string | undefined;
  for (const cs of spec.cronString ?? []) {
    const parsed = parseCron(cs);
    if (cronTz !== undefined && parsed.tz !== cronTz) throw specError('conflicting time zone names');
    cronTz = parsed.tz;
    if (parsed.calendar) structured.push(parsed.calendar);
    if (parsed.interval) intervals.push(parsed.interval);
  }
  if (cronTz) {
    if (tz && tz !== cronTz) throw specError('conflicting time zone names');
    tz = cronTz;
  }
  checkTimezone(tz);
  for (const c of [...structured, ...excludes]) validateCalendar(c);
  for (const i of intervals) {
    const iv = durationMs(i.interval);
    const phase = durationMs(i.phase);
    if (iv < 1000) throw specError('interval is too small');
    if (phase < 0) throw specError('phase is negative');
    if (phase >= iv) throw specError('phase cannot be greater than Interval');
  }
  return {
    structuredCalendar: structured,
    interval: intervals,
    excludeStructuredCalendar: excludes,
    startTime: spec.startTime ?? undefined,
    endTime: spec.endTime ?? undefined,
    jitter: spec.jitter ?? undefined,
    timezoneName: tz || undefined,
  };
}

// ---------------------------------------------------------------- time zones

interface Civil {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

class Zone {
  private fmt: Intl.DateTimeFormat | null;

  constructor(name: string) {
    this.fmt =
      !name || name === 'UTC'
        ? null
        : new Intl.DateTimeFormat('en-US', {
            timeZone: name,
            hourCycle: 'h23',
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
          });
  }

  /** Wall-clock fields of an instant (ms, whole seconds). */
  civil(ms: number): Civil {
    if (!this.fmt) {
      const t = new Date(ms);
      return {
        y: t.getUTCFullYear(),
        mo: t.getUTCMonth() + 1,
        d: t.getUTCDate(),
        h: t.getUTCHours(),
        mi: t.getUTCMinutes(),
        s: t.getUTCSeconds(),
      };
    }
    const p: Record<string, number> = {};
    for (const part of this.fmt.formatToParts(new Date(ms))) if (part.type !== 'literal') p[part.type] = +part.value;
    return { y: p.year, mo: p.month, d: p.day, h: p.hour % 24, mi: p.minute, s: p.second };
  }

  /** The instant of a wall-clock time, or null when the time does not exist (skipped by DST). */
  instant(c: Civil): number | null {
    const guess = Date.UTC(c.y, c.mo - 1, c.d, c.h, c.mi, c.s);
    if (!this.fmt) return guess;
    let t = guess;
    for (let i = 0; i < 3; i++) {
      const l = this.civil(t);
      const off = Date.UTC(l.y, l.mo - 1, l.d, l.h, l.mi, l.s) - t;
      const next = guess - off;
      if (next === t) break;
      t = next;
    }
    const l = this.civil(t);
    return l.y === c.y && l.mo === c.mo && l.d === c.d && l.h === c.h && l.mi === c.mi && l.s === c.s ? t : null;
  }
}

// ---------------------------------------------------------------- matching

function matcher(ranges: Range[], emptyMatchesAll = false): (v: number) => boolean {
  if (emptyMatchesAll && ranges.length === 0) return () => true;
  const set = new Set<number>();
  for (const r of ranges) {
    const step = r.step || 1;
    for (let v = r.start; v <= Math.max(r.end, r.start); v += step) set.add(v);
  }
  return (v) => set.has(v);
}

const daysInMonth = (y: number, mo: number) => new Date(Date.UTC(y, mo, 0)).getUTCDate();
const weekday = (y: number, mo: number, d: number) => new Date(Date.UTC(y, mo - 1, d)).getUTCDay();

class CompiledCalendar {
  private year;
  private month;
  private dom;
  private dow;
  private hour;
  private minute;
  private second;

  constructor(
    cal: StructuredCalendar,
    private readonly zone: Zone,
  ) {
    this.year = matcher(cal.year, true);
    this.month = matcher(cal.month);
    this.dom = matcher(cal.dayOfMonth);
    this.dow = matcher(cal.dayOfWeek);
    this.hour = matcher(cal.hour);
    this.minute = matcher(cal.minute);
    this.second = matcher(cal.second);
  }

  matches(ms: number): boolean {
    const c = this.zone.civil(ms);
    return (
      this.year(c.y) &&
      this.month(c.mo) &&
      this.dom(c.d) &&
      this.dow(weekday(c.y, c.mo, c.d)) &&
      this.hour(c.h) &&
      this.minute(c.mi) &&
      this.second(c.s)
    );
  }

  /** The first matching instant strictly after `after` (whole seconds), or null. */
  next(after: number): number | null {
    let { y, mo, d, h, mi, s } = this.zone.civil(Math.floor(after / 1000) * 1000);
    s++;
    for (;;) {
      if (s >= 60) [mi, s] = [mi + 1, 0];
      if (mi >= 60) [h, mi] = [h + 1, 0];
      if (h >= 24) [d, h] = [d + 1, 0];
      if (d > daysInMonth(y, mo)) [mo, d] = [mo + 1, 1];
      if (mo > 12) [y, mo] = [y + 1, 1];
      if (y > MAX_YEAR) return null;
      if (!this.year(y)) {
        [y, mo, d, h, mi, s] = [y + 1, 1, 1, 0, 0, 0];
      } else if (!this.month(mo)) {
        [mo, d, h, mi, s] = [mo + 1, 1, 0, 0, 0];
      } else if (!this.dom(d) || !this.dow(weekday(y, mo, d))) {
        [d, h, mi, s] = [d + 1, 0, 0, 0];
      } else if (!this.hour(h)) {
        [h, mi, s] = [h + 1, 0, 0];
      } else if (!this.minute(mi)) {
        [mi, s] = [mi + 1, 0];
      } else if (!this.second(s)) {
        s++;
      } else {
        const t = this.zone.instant({ y, mo, d, h, mi, s });
        if (t !== null && t > after) return t;
        // A wall time skipped by a DST change (or one already passed in a repeated hour).
        s++;
      }
    }
  }
}

const MAX_EXCLUDED_ITERATIONS = 100_000;

export class CompiledSpec {
  private calendars: CompiledCalendar[];
  private excludes: CompiledCalendar[];
  private intervals: Array<{ every: number; phase: number }>;
  private startTime: number;
  private endTime: number;

  constructor(readonly spec: CanonicalSpec) {
    const zone = new Zone(spec.timezoneName ?? '');
    this.calendars = spec.structuredCalendar.map((c) => new CompiledCalendar(c, zone));
    this.excludes = spec.excludeStructuredCalendar.map((c) => new CompiledCalendar(c, zone));
    this.intervals = spec.interval.map((i) => ({
      every: Math.max(Math.floor(durationMs(i.interval) / 1000), 1),
      phase: Math.max(Math.floor(durationMs(i.phase) / 1000), 0),
    }));
    this.startTime = spec.startTime ? timestampMs(spec.startTime) : 0;
    this.endTime = spec.endTime ? timestampMs(spec.endTime) : Infinity;
  }

  /** The first nominal action time strictly after `after` (ms), or null when there is none. */
  next(after: number): number | null {
    after = Math.max(after, this.startTime - 1000);
    for (let i = 0; i < MAX_EXCLUDED_ITERATIONS; i++) {
      const t = this.rawNext(after);
      if (t === null || t > this.endTime || new Date(t).getUTCFullYear() > MAX_YEAR) return null;
      if (!this.excludes.some((x) => x.matches(t))) return t;
      after = t;
    }
    return null;
  }

  private rawNext(after: number): number | null {
    let best = Infinity;
    for (const c of this.calendars) {
      const t = c.next(after);
      if (t !== null && t < best) best = t;
    }
    const sec = Math.floor(after / 1000);
    for (const { every, phase } of this.intervals) {
      const t = (Math.floor((sec - phase) / every) + 1) * every + phase;
      if (t * 1000 < best) best = t * 1000;
    }
    return best === Infinity ? null : best;
  }
}
