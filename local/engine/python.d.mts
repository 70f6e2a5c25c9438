/** python3 (3.8 or later: what fork-server.py runs on) by its absolute path, or undefined. */
export function findPython(): string | undefined;
