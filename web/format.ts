/**
 * How the console writes values into its HTML: escaping, a task's state and its pill, durations, an
 * attempt's progress. Shared by the pages (app.ts) and the DAG (dag.ts).
 */

export const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The four states the console colours: an attempt's status folded (no attempt yet: waiting). */
export type State = 'succeeded' | 'failed' | 'running' | 'waiting';

export const stateOf = (status: string | undefined): State =>
  status === 'succeeded' || status === 'failed' ? status : status === undefined ? 'waiting' : 'running';

export const COLOURS: Record<State, string> = { succeeded: '#2e9e4f', failed: '#d2403b', running: '#e0a019', waiting: '#a0a6ad' };

export const pill = (status: string) => `<span class="pill ${stateOf(status)}" data-status="${esc(status)}">${esc(status)}</span>`;

export const dur = (from?: string, to?: string) => {
  if (!from) return '';
  const s = ((to ? Date.parse(to) : Date.now()) - Date.parse(from)) / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : s < 3600 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${(s / 3600).toFixed(1)}h`;
};

/** An attempt's reported progress as text: `42.5% · loading partition 3` (one decimal at most). */
export const progressText = (p?: { percent: number; message?: string }) =>
  p ? `${Number(p.percent.toFixed(1))}%${p.message ? ` · ${p.message}` : ''}` : '';

export const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** 10000 → `10,000` (fixed locale: the same text in every browser). */
export const count = (n: number) => n.toLocaleString('en-US');
