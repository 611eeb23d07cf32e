/**
 * How far a sync has got and how long it has left. Stripe's lists carry no totals,
 * but they run newest first, so the creation time of the last object stored says
 * what share of the time span a resource has covered; the time spent so far then
 * extrapolates to the time left.
 */
export interface ResourceState {
  resource: string;
  objects: number;
  pages: number;
  done: boolean;
  oldestCreated: Date | null;
  startedAt: Date;
}

export interface ResourceEstimate {
  resource: string;
  objects: number;
  pages: number;
  done: boolean;
  /** Share of the resource done, 0..1; null until a first page gives a clue. */
  fraction: number | null;
  etaSeconds: number | null;
}

/**
 * `spanStart`: the oldest creation time the resource is expected to reach (the
 * history window's start, or the account's first object for unwindowed lists).
 */
export function estimateResource(s: ResourceState, now: Date, spanStart: Date | null): ResourceEstimate {
  const out = { resource: s.resource, objects: s.objects, pages: s.pages, done: s.done };
  if (s.done) return { ...out, fraction: 1, etaSeconds: 0 };
  if (!spanStart || !s.oldestCreated) return { ...out, fraction: s.pages > 0 ? null : 0, etaSeconds: null };
  const span = now.getTime() - spanStart.getTime();
  if (span <= 0) return { ...out, fraction: null, etaSeconds: null };
  // Never claim to be finished before the list says so.
  const fraction = Math.min(0.99, Math.max(0, (now.getTime() - s.oldestCreated.getTime()) / span));
  const elapsed = Math.max(0, (now.getTime() - s.startedAt.getTime()) / 1000);
  const etaSeconds = fraction > 0 ? Math.round((elapsed * (1 - fraction)) / fraction) : null;
  return { ...out, fraction, etaSeconds };
}

/** Resources run in parallel: the sync is done when the slowest one is. */
export function overallEta(estimates: ResourceEstimate[]): number | null {
  if (estimates.every((e) => e.done)) return 0;
  const open = estimates.filter((e) => !e.done);
  if (open.some((e) => e.etaSeconds === null)) return null;
  return Math.max(...open.map((e) => e.etaSeconds ?? 0));
}

/** A one-line text bar for terminals: `customers  [#####.....]  50% 1200 objects 12 pages`. */
export function progressBar(e: ResourceEstimate, width = 20): string {
  const f = e.fraction ?? 0;
  const filled = Math.round(f * width);
  const pct = e.fraction === null ? '  ?%' : `${String(Math.floor(f * 100)).padStart(3)}%`;
  const eta = e.done ? 'done' : e.etaSeconds === null ? '' : `~${e.etaSeconds}s left`;
  return `${e.resource.padEnd(16)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${pct} ${String(e.objects).padStart(7)} objects ${String(e.pages).padStart(5)} pages ${eta}`;
}

/**
 * How many terminal rows text takes: each of its lines (a message may hold newlines)
 * at least one, and one more for every `width` characters a line wraps over. A redraw
 * moves the cursor up this many rows.
 */
export function terminalRows(text: string[], width: number): number {
  const columns = Math.max(1, width);
  return text.flatMap((t) => t.split('\n')).reduce((rows, line) => rows + Math.max(1, Math.ceil(line.length / columns)), 0);
}
