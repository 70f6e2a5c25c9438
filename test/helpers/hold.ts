/**
 * Tasks that wait for the test without polling: while a FIFO stands at a path (the hold), a task's
 * `waitWhileHeld` line blocks reading it, and goes on when the test `release`s it: an event, not a sleep loop.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** The task's shell line: with no FIFO at `path` it goes on at once, else it waits for the test's line. */
export const waitWhileHeld = (path: string): string => `[ ! -p '${path}' ] || read _ < '${path}'`;

/** Makes the FIFO at `path`: a task that reaches its `waitWhileHeld(path)` line from now on waits. */
export function hold(path: string): void {
  execFileSync('mkfifo', [path]);
}

/**
 * Lets the one task waiting at `path` go on, and any task after it go on at once: opening the FIFO for
 * writing waits until the task has it open, and the FIFO is removed before the task is written its line.
 * Call it only once the test knows the task is running: a FIFO nobody opens would keep it waiting.
 */
export async function release(path: string): Promise<void> {
  const fifo = await open(path, 'w');
  try {
    rmSync(path);
    await fifo.write('go\n');
  } finally {
    await fifo.close();
  }
}
