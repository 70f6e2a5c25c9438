/**
 * The local mode's function marks (local/function-context.ts): off unless asked for, since
 * AsyncLocalStorage costs every promise of the server (docs/PERFORMANCE.md); once on, each entry point's
 * async work carries its function, the innermost mark winning.
 */
import { expect, it } from 'vitest';
import { currentFunction, markFunctions, runAs } from '../../local/function-context';

it('keeps no mark until asked to, then follows the async work of each entry point', async () => {
  // Prepare
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  const seen = async () => {
    await tick();
    return currentFunction();
  };

  // Act
  const unmarked = await runAs('engine', seen);
  const valueUnmarked = runAs('api', () => 42);
  markFunctions();
  const [engine, api, nested] = await Promise.all([runAs('engine', seen), runAs('api', seen), runAs('api', () => runAs('engine', seen))]);

  // Assess
  expect(unmarked).toBeUndefined();
  expect(valueUnmarked).toBe(42);
  expect([engine, api, nested]).toEqual(['engine', 'api', 'engine']);
  expect(currentFunction()).toBeUndefined();
});
