/**
 * A task's captured output reads back in the order it was written, over HTTP through the local mode:
 * through `/output` paged by sequence, through `/log_entries` paged, and in the run's last entries;
 * and a page of the longest lines stays under Lambda's 6 MB response.
 */
import { describe, expect, it } from 'vitest';
import { LAMBDA_SYNC_RESPONSE_MAX_BYTES } from '../../lambdas/domain/aws-limits';
import { LIMITS } from '../../lambdas/domain/models';
import { payloadBytes } from '../../lambdas/domain/response-size';
import { type Api, seedRun, shellScript, sundialPerFile } from '../helpers/local';
import { until } from '../helpers/until';

const { api, current } = sundialPerFile();
const LINES = 20_000;
/**
 * Lines of the longest message written for the page-size test: 100 by default, several pages each cut by
 * the byte budget (ENTRY_PAGE_BUDGET_BYTES, 5 MiB: a few dozen such lines), the paths 1,000 take with a
 * tenth of the bytes (1,000 took 31 s of the suite); `OUTPUT_WIDE_LINES=1000` fills the 1,000 lines a page
 * may ask for.
 */
const WIDE_LINES = Number(process.env.OUTPUT_WIDE_LINES ?? 100);

/** Every page of `path` (a `next` in the body), each page's body and its items under `field`. */
async function allPages(call: Api, path: string, field: string): Promise<{ items: any[]; bodies: string[] }> {
  const items: any[] = [];
  const bodies: string[] = [];
  let next: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const res = await call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=1000${next ? `&next=${encodeURIComponent(next)}` : ''}`);
    expect(res.status).toBe(200);
    bodies.push(res.text);
    items.push(...res.json[field]);
    if (res.json[field].length === 0 || !res.json.next) return { items, bodies };
    next = res.json.next;
  }
  throw new Error(`${path}: more than 1000 pages`);
}

describe('captured output', () => {
  it(`seq 1 ${LINES} reads back 1..${LINES} through /output, /log_entries and the run`, async () => {
    // Prepare
    await api('PUT', '/api/process_definitions/counting', { process_definition_name: 'counting', task_definitions: [shellScript('count', `seq 1 ${LINES}`)] });
    const expected = Array.from({ length: LINES }, (_, i) => String(i + 1));

    // Act
    const run = (await api('POST', '/api/process_definitions/counting/trigger')).json;
    const done = await until(() => api('GET', `/api/processes/${run.process_id}`), (r) => r.json.status !== 'running', 120_000);
    const taskId = done.json.task[0].task_id;
    const output = await allPages(api, `/api/tasks/${taskId}/output`, 'lines');
    const entries = await allPages(api, `/api/tasks/${taskId}/log_entries`, 'log_entries');

    // Assess
    expect(done.json.status).toBe('succeeded');
    expect(output.items.map((l) => l.message)).toEqual(expected);
    expect(output.items.every((l) => l.stream === 'stdout')).toBe(true);
    expect(entries.items.filter((e) => e.source === 'stdout').map((e) => e.message)).toEqual(expected);
    expect(done.json.task[0].log_entries.map((e: { message: string }) => e.message)).toEqual(expected.slice(-10));
  }, 180_000);

  it('a cursor is the last line read: it reads on from there once more lines arrive, and a forged one is a 400', async () => {
    // Prepare: an attempt whose first 3 lines are stored
    const { services } = current();
    const seeded = await seedRun(services, { process_definition_name: 'paged', tasks: [{ task_definition_name: 'out', status: 'running' }] });
    const taskId = seeded.tasks[0]!.task_id;
    const line = (seq: number) => ({ log_entry_id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, when: new Date(Date.UTC(2026, 0, 1)).toISOString(), source: 'stdout' as const, message: `line ${seq}`, seq });
    await services.store.runs.appendCapturedLines(seeded.process_id, taskId, [0, 1, 2].map(line));
    const first = (await api('GET', `/api/tasks/${taskId}/output?limit=2`)).json;

    // Act: two more lines arrive, all within the same millisecond
    await services.store.runs.appendCapturedLines(seeded.process_id, taskId, [3, 4].map(line));
    const second = (await api('GET', `/api/tasks/${taskId}/output?next=${first.next}`)).json;
    const forged = await api('GET', `/api/tasks/${taskId}/output?next=eyJwayI6MX0`);

    // Assess
    expect(first.lines.map((l: { message: string }) => l.message)).toEqual(['line 0', 'line 1']);
    expect(second.lines.map((l: { message: string }) => l.message)).toEqual(['line 2', 'line 3', 'line 4']);
    expect(forged.status).toBe(400);
    expect(forged.json.error.code).toBe('invalid_cursor');
  });

  it('log entry pages of any size read chunks of captured lines and callback entries in order, a page ending inside a chunk', async () => {
    // Prepare: two writes of 5 lines (two chunks), a callback entry written between them
    const { services } = current();
    const seeded = await seedRun(services, { process_definition_name: 'mixed', tasks: [{ task_definition_name: 'out', status: 'running' }] });
    const taskId = seeded.tasks[0]!.task_id;
    const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    const line = (seq: number, s: number) => ({ log_entry_id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, when: at(s), source: 'stdout' as const, message: `line ${seq}`, seq });
    await services.store.runs.appendCapturedLines(seeded.process_id, taskId, [0, 1, 2, 3, 4].map((seq) => line(seq, 1)));
    await api('POST', `/api/tasks/${taskId}/log_entries`, [{ log_entry_id: '11111111-1111-4111-8111-111111111111', when: at(2), source: 'task', message: 'between' }], { authorization: `Bearer ${seeded.tasks[0]!.token}` });
    await services.store.runs.appendCapturedLines(seeded.process_id, taskId, [5, 6, 7, 8, 9].map((seq) => line(seq, 3)));
    const expected = ['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'between', 'line 5', 'line 6', 'line 7', 'line 8', 'line 9'];

    // Act
    const pages = await Promise.all([1, 2, 3, 4, 7, 1000].map(async (limit) => {
      const read: string[] = [];
      let next: string | undefined;
      for (let i = 0; i < 20; i++) {
        const page = (await api('GET', `/api/tasks/${taskId}/log_entries?limit=${limit}${next ? `&next=${next}` : ''}`)).json;
        read.push(...page.log_entries.map((e: { message: string }) => e.message));
        next = page.next;
        if (!next || page.log_entries.length === 0) break;
      }
      return read;
    }));
    const run = (await api('GET', `/api/processes/${seeded.process_id}`)).json;
    const forged = await api('GET', `/api/tasks/${taskId}/log_entries?next=${Buffer.from(JSON.stringify({ at: 'x#OUT', skip: -1 })).toString('base64url')}`);

    // Assess
    for (const read of pages) expect(read).toEqual(expected);
    expect(run.task[0].log_entries.map((e: { message: string }) => e.message)).toEqual(expected.slice(-10));
    expect(run.task[0].log_entries_truncated).toBe(true);
    expect(forged.status).toBe(400);
  });

  it(`a page asked for 1,000 lines of the longest message stays under Lambda’s 6 MB response, and paging reads all ${WIDE_LINES}`, async () => {
    // Prepare: WIDE_LINES lines of 32 KB of the character JSON escapes the most (\u0001: 6 bytes, 7 in a Lambda event)
    const { services } = current();
    const seeded = await seedRun(services, { process_definition_name: 'wide', tasks: [{ task_definition_name: 'out', status: 'succeeded' }] });
    const taskId = seeded.tasks[0]!.task_id;
    const message = '\u0001'.repeat(LIMITS.entryMessageMaxLength);
    const when = new Date().toISOString();
    const lines = Array.from({ length: WIDE_LINES }, (_, seq) => ({ log_entry_id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, when, source: 'stdout' as const, message, seq }));
    for (let i = 0; i < lines.length; i += 100) await services.store.runs.appendCapturedLines(seeded.process_id, taskId, lines.slice(i, i + 100));

    // Act
    const output = await allPages(api, `/api/tasks/${taskId}/output`, 'lines');

    // Assess
    expect(output.items).toHaveLength(WIDE_LINES);
    expect(output.bodies.length).toBeGreaterThan(1);
    for (const body of output.bodies) expect(payloadBytes(JSON.parse(body))).toBeLessThan(LAMBDA_SYNC_RESPONSE_MAX_BYTES);
    // A deadline, not a wait: at 1,000 lines, 192 MB of escaped JSON through the store and back took 100 s at load 15.
  }, 300_000);
});
