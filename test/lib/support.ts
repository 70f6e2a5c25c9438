import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PROJECT_ROOT, SundialStack, type SundialStackProps } from '../../lib/index';
import { tempDir as tempDirOf } from '../helpers/temp-dirs';

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

/** A fresh temporary directory (cloud assembly output, bundles), removed after the test file (test/setup.ts). */
export function tempDir(prefix = 'cdk-infra-'): string {
  return tempDirOf(prefix);
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

/** One cdk-nag finding nobody acknowledged. */
export interface NagFinding {
  readonly rule: string;
  readonly path: string;
  readonly description: string;
}

/**
 * Synthesizes `app` with cdk-nag's AwsSolutions pack the way bin/sundial.ts
 * registers it and returns every unacknowledged finding, errors and warnings
 * alike. cdk-nag 3 reports through CDK's policy validation: synthesis throws
 * on errors and the details land in `<outdir>/validation-report.json`.
 */
export function nagFindings(build: (app: App) => void): NagFinding[] {
  const outdir = tempDir('cdk-infra-nag-');
  const app = newApp({ outdir });
  build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

  let synthError: unknown;
  try {
    app.synth();
  } catch (error) {
    synthError = error;
  }

  const reportFile = join(outdir, 'validation-report.json');
  if (!existsSync(reportFile)) {
    // No report at all: synthesis failed for another reason, which must not pass silently.
    if (synthError) throw synthError;
    throw new Error(`cdk-nag wrote no report in ${outdir}`);
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
    pluginReports: Array<{
      violations: Array<{ ruleName: string; description: string; violatingConstructs: Array<{ constructPath: string }> }>;
    }>;
  };
  const findings = report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((violation) =>
      violation.violatingConstructs.map((construct) => ({
        rule: violation.ruleName,
        path: construct.constructPath,
        description: violation.description,
      })),
    ),
  );
  if (synthError && findings.length === 0) throw synthError;
  return findings;
}
