// What the fork server (fork-server.py) runs on: python3 3.8 or later, whose os.posix_spawn takes file
// actions and `setsid`. One check, for the spawner (spawner-process.mjs) and for the tests of its two modes.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** python3 (3.8 or later) by its absolute path, searched in /usr/bin then PATH, or undefined. */
export function findPython() {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const dir of dirs) {
    const candidate = join(dir, 'python3');
    if (!existsSync(candidate)) continue;
    const probe = spawnSync(candidate, ['-I', '-S', '-c', 'import os, sys; sys.exit(0 if sys.version_info >= (3, 8) and hasattr(os, "POSIX_SPAWN_DUP2") else 1)'], { stdio: 'ignore', timeout: 10_000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}
