/** The `sundial` CLI (cli/bin.mjs, the npm bin) run as an operator runs it, against a test's local Sundial. */
import { execFile } from 'node:child_process';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A runner of `sundial <args>` against the Sundial at `url()`, with `before` put ahead of every call's
 * arguments (e.g. `--interval 100`); answers the exit code and what it printed, never throws.
 */
export function cliRunner(url: () => string, options: { before?: string[]; timeoutMs?: number; maxBuffer?: number } = {}) {
  return (...args: string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ['cli/bin.mjs', '--url', url(), ...(options.before ?? []), ...args],
        { timeout: options.timeoutMs ?? 60_000, ...(options.maxBuffer ? { maxBuffer: options.maxBuffer } : {}) },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
}
