/**
 * The task state machine the local mode runs is the one `cdk synth` emits: the stack is synthesized in
 * this process (asset bundling skipped, the same context as `cdk.json`) and its definition taken from
 * the template, intrinsic functions resolved to placeholders (lib/asl.ts). Cached per process.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * When set, a file holding the synthesized definition: read if it exists, written after synthesis
 * otherwise. The test suite synthesizes once per run this way (test/global-setup.ts).
 */
export const TASK_DEFINITION_FILE_ENV = 'SUNDIAL_TASK_DEFINITION_FILE';

let cached: Promise<object> | undefined;

export function loadTaskDefinition(): Promise<object> {
  cached ??= (async () => {
    const file = process.env[TASK_DEFINITION_FILE_ENV];
    if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as object;
    const definition = await synthesize();
    if (file) writeFileSync(file, JSON.stringify(definition));
    return definition;
  })();
  return cached;
}

async function synthesize(): Promise<object> {
  const [{ App }, { SundialStack }, { extractDefinition }] = await Promise.all([
    import('aws-cdk-lib'),
    import('../../lib/sundial-stack'),
    import('../../lib/asl'),
  ]);
  const root = join(import.meta.dirname, '..', '..');
  const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const app = new App({
    context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] },
    outdir: undefined,
  });
  const stack = new SundialStack(app, 'Sundial');
  const template = app.synth().getStackByName(stack.stackName).template as object;
  return extractDefinition(template);
}
