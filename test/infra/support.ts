import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll } from 'vitest';
import { PROJECT_ROOT, SundialStack, type SundialStackProps } from '../../lib/index';

/**
 * The context of cdk.json (feature flags). The CLI hands it to the app; a test
 * that builds an `App` itself must too, or it asserts on another template.
 */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'),
).context;

/**
 * Context the CDK CLI adds on `cdk synth`: construct paths and asset paths in
 * the template's Metadata, which the tests use to find resources.
 */
export const CLI_CONTEXT: Record<string, unknown> = {
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
};

const tempDirs: string[] = [];
// Registered on the root suite of each test file importing this module (modules are isolated per file).
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory (cloud assembly output, bundles), removed after the test file. */
export function tempDir(prefix = 'cdk-infra-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * An App with the feature flags of cdk.json. Asset bundling is skipped
 * (`aws:cdk:bundling-stacks: []`) unless `bundle` is set: esbuild runs in
 * bundling.test.ts, the other tests only read templates.
 */
export function newApp(options: { bundle?: boolean; outdir?: string } = {}): App {
  return new App({
    outdir: options.outdir ?? tempDir(),
    context: { ...CDK_JSON_CONTEXT, ...CLI_CONTEXT, ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
}

/** A SundialStack in a fresh App (no bundling) and its template. */
export function synthSundial(props: SundialStackProps = {}): { stack: SundialStack; template: Template } {
  const stack = new SundialStack(newApp(), 'Sundial', props);
  return { stack, template: Template.fromStack(stack) };
}

/** Logical id of the one resource of `type` whose construct path ends with `pathSuffix`. */
export function logicalIdByPath(template: Template, type: string, pathSuffix: string): string {
  const matches = Object.entries(template.findResources(type)).filter(([, resource]) =>
    String(resource.Metadata?.['aws:cdk:path'] ?? '').endsWith(pathSuffix),
  );
  if (matches.length !== 1) {
    throw new Error(`expected one ${type} at a path ending with ${pathSuffix}, found ${matches.length}`);
  }
  return matches[0]![0];
}

/** Every IAM policy statement of the template (standalone policies and inline role policies). */
export function allPolicyStatements(template: Template): Array<{ owner: string; statement: Record<string, unknown> }> {
  const statements: Array<{ owner: string; statement: Record<string, unknown> }> = [];
  const push = (owner: string, document: { Statement?: Array<Record<string, unknown>> } | undefined) => {
    for (const statement of document?.Statement ?? []) statements.push({ owner, statement });
  };
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, resource] of Object.entries(template.findResources(type))) push(id, resource.Properties.PolicyDocument);
  }
  for (const [id, resource] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const policy of resource.Properties.Policies ?? []) push(id, policy.PolicyDocument);
  }
  return statements;
}

/** `Action` of a statement as an array. */
export function actionsOf(statement: Record<string, unknown>): string[] {
  const action = statement.Action;
  return Array.isArray(action) ? action.map(String) : action === undefined ? [] : [String(action)];
}
