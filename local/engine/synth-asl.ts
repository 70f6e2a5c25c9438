/**
 * Synthesizes the Sundial stack (asset bundling skipped, the same context as `cdk.json`) and prints the
 * task state machine's definition as JSON on stdout (lib/asl.ts resolves its intrinsic functions to
 * placeholders). Run in a process of its own by ./asl.ts: loading aws-cdk-lib and synthesizing keeps
 * ≈ 400 MB that the local server would otherwise carry for as long as it runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { extractDefinition } from '../../lib/asl';
import { SundialStack } from '../../lib/sundial-stack';

const root = join(import.meta.dirname, '..', '..');
const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] }, outdir: undefined });
const stack = new SundialStack(app, 'Sundial');
const template = app.synth().getStackByName(stack.stackName).template as object;
process.stdout.write(JSON.stringify(extractDefinition(template)));
