/** The DAG view `sundial trigger --wait` draws (cli/progress.ts): each running task with the progress it reported. */
import { describe, expect, it } from 'vitest';
import { PROGRESS_MESSAGE_WIDTH, renderProgress, type RunView, type TaskView } from '../../cli/progress';
import { isoAt } from '../helpers/factories';

const definition = {
  task_definitions: [
    { task_definition_name: 'extract', dependencies: [] },
    { task_definition_name: 'load', dependencies: [{ task_definition_name: 'extract' }] },
  ],
};

const attempt = (name: string, overrides: Partial<TaskView> = {}): TaskView => ({
  task_id: `${name}-id`, task_definition_name: name, previous_attempt_count: 0, status: 'running', start_time: isoAt(0), ...overrides,
});

const run = (task: TaskView[]): RunView => ({ process_id: 'p', process_definition_name: 'etl', status: 'running', start_time: isoAt(0), task });

/** The line of task `name` in the view. */
const lineOf = (text: string, name: string) => text.split('\n').find((l) => l.includes(` ${name} `)) ?? '';

describe('renderProgress', () => {
  it("shows a running task's percent (one decimal at most) and message, before its dependencies", () => {
    // Act
    const text = renderProgress(definition, run([
      attempt('extract', { status: 'succeeded', end_time: isoAt(1), progress: { percent: 100, message: 'all rows' } }),
      attempt('load', { progress: { percent: 100 / 3, message: 'partition 3 of 9' } }),
    ]), new Date(Date.parse(isoAt(2))), false);

    // Assess
    expect(lineOf(text, 'load')).toMatch(/● load {2}running \d+\.\ds {2}33\.3% partition 3 of 9 {2}← extract$/);
    // An ended task shows its state, not the progress it last reported.
    expect(lineOf(text, 'extract')).not.toContain('%');
  });

  it('shows a percent without a message, and nothing for a running task that reported none', () => {
    // Act
    const text = renderProgress(definition, run([attempt('extract', { progress: { percent: 5 } }), attempt('load')]), new Date(), false);

    // Assess
    expect(lineOf(text, 'extract')).toMatch(/s {2}5%$/);
    expect(lineOf(text, 'load')).not.toContain('%');
  });

  it(`cuts a long message to ${PROGRESS_MESSAGE_WIDTH} characters`, () => {
    // Act
    const text = renderProgress(definition, run([attempt('extract', { progress: { percent: 50, message: 'x'.repeat(1000) } })]), new Date(), false);

    // Assess
    expect(lineOf(text, 'extract')).toMatch(new RegExp(`50% x{${PROGRESS_MESSAGE_WIDTH - 1}}…$`));
  });
});
