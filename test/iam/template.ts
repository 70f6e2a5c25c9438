/**
 * The synthesized stack as IAM sees it: every intrinsic function of the template resolved to a concrete
 * value in a fixed fake account and region, each Lambda function's role and the identity policies
 * attached to it, and every role's trust policy. The harness (./evaluate.ts) asks iam-simulate about
 * these policies only — never about what the CDK code meant to grant.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TASK_DEFINITION_FILE_ENV } from '../../local/engine/asl';
import { until } from '../helpers/until';
import { synthSundial } from '../lib/support';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
export const PARTITION = 'aws';
/** The SES From address the harness's stack is synthesized with (an address identity). */
export const SENDER = 'sundial@example.com';

/** The Lambda functions of the stack, by the construct path of each (lib/sundial.ts). */
export const FUNCTION_PATHS = {
  api: 'Sundial/Sundial/Api/ApiHandler/Function/Resource',
  callbacks: 'Sundial/Sundial/Api/CallbacksHandler/Function/Resource',
  engine: 'Sundial/Sundial/Engine/Handler/Function/Resource',
  notify: 'Sundial/Sundial/Notifications/Handler/Function/Resource',
} as const;

export type FunctionName = keyof typeof FUNCTION_PATHS;

type Json = unknown;
interface Resource {
  Type: string;
  Properties?: Record<string, any>;
  Metadata?: Record<string, unknown>;
}

/** An IAM policy document. */
export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[];
}

/** A role of the template with its policies, resolved. */
export interface ResolvedRole {
  logicalId: string;
  /** Construct path (`aws:cdk:path`), to name it in messages. */
  path: string;
  arn: string;
  trustPolicy: PolicyDocument;
  /** Inline policies and every `AWS::IAM::Policy` that names the role. */
  identityPolicies: { name: string; policy: PolicyDocument }[];
  /** ARNs of AWS managed policies (their documents are not in the template: ./evaluate.ts refuses them). */
  managedPolicyArns: string[];
}

/** ARN of a resource's `Arn` attribute, by type (the formats of the Service Authorization Reference). */
const ARN_OF: Record<string, (name: string) => string> = {
  'AWS::DynamoDB::GlobalTable': (n) => `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${n}`,
  'AWS::DynamoDB::Table': (n) => `arn:${PARTITION}:dynamodb:${REGION}:${ACCOUNT}:table/${n}`,
  'AWS::Lambda::Function': (n) => `arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:${n}`,
  'AWS::IAM::Role': (n) => `arn:${PARTITION}:iam::${ACCOUNT}:role/${n}`,
  'AWS::StepFunctions::StateMachine': (n) => `arn:${PARTITION}:states:${REGION}:${ACCOUNT}:stateMachine:${n}`,
  'AWS::ECS::Cluster': (n) => `arn:${PARTITION}:ecs:${REGION}:${ACCOUNT}:cluster/${n}`,
  'AWS::Batch::JobQueue': (n) => `arn:${PARTITION}:batch:${REGION}:${ACCOUNT}:job-queue/${n}`,
  'AWS::Batch::ComputeEnvironment': (n) => `arn:${PARTITION}:batch:${REGION}:${ACCOUNT}:compute-environment/${n}`,
  // CloudFormation's Arn of a log group ends in `:*` (every stream of the group).
  'AWS::Logs::LogGroup': (n) => `arn:${PARTITION}:logs:${REGION}:${ACCOUNT}:log-group:${n}:*`,
  'AWS::SecretsManager::Secret': (n) => `arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:${n}-AbCdEf`,
  'AWS::Scheduler::ScheduleGroup': (n) => `arn:${PARTITION}:scheduler:${REGION}:${ACCOUNT}:schedule-group/${n}`,
  'AWS::SQS::Queue': (n) => `arn:${PARTITION}:sqs:${REGION}:${ACCOUNT}:${n}`,
  'AWS::S3::Bucket': (n) => `arn:${PARTITION}:s3:::${n}`,
  'AWS::KMS::Key': (n) => `arn:${PARTITION}:kms:${REGION}:${ACCOUNT}:key/${n}`,
  'AWS::CloudFront::Distribution': (n) => `arn:${PARTITION}:cloudfront::${ACCOUNT}:distribution/${n}`,
  'AWS::Cognito::UserPool': (n) => `arn:${PARTITION}:cognito-idp:${REGION}:${ACCOUNT}:userpool/${REGION}_${n}`,
  'AWS::ApiGatewayV2::Api': (n) => `arn:${PARTITION}:apigateway:${REGION}::/apis/${n}`,
};

/** What `Ref` answers, by type, when it is the ARN rather than the name (CloudFormation's return values). */
const REF_IS_ARN = new Set(['AWS::StepFunctions::StateMachine', 'AWS::Batch::JobQueue', 'AWS::SecretsManager::Secret', 'AWS::SQS::Queue']);

/** The name-giving property of each type, when the template sets it. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::DynamoDB::GlobalTable': 'TableName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::ECS::Cluster': 'ClusterName',
  'AWS::Batch::JobQueue': 'JobQueueName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::Scheduler::ScheduleGroup': 'Name',
};

/** The synthesized template with its intrinsic functions resolvable. */
export class ResolvedTemplate {
  readonly resources: Record<string, Resource>;

  constructor(readonly template: { Resources: Record<string, Resource> }) {
    this.resources = template.Resources;
  }

  /** The physical name CloudFormation would give a resource: its name property, else a name from its logical id. */
  physicalName(logicalId: string): string {
    const resource = this.resource(logicalId);
    const property = NAME_PROPERTY[resource.Type];
    const given = property ? resource.Properties?.[property] : undefined;
    if (given !== undefined) return String(this.resolve(given));
    // CloudFormation generates `<stack>-<logical id>-<suffix>`; one fixed suffix keeps the names stable.
    return `Sundial-${logicalId}-1A2B3C4D`.slice(0, 64);
  }

  resource(logicalId: string): Resource {
    const resource = this.resources[logicalId];
    if (!resource) throw new Error(`the template has no resource ${logicalId}`);
    return resource;
  }

  /** A value of the template with every intrinsic function resolved; an unknown one throws, naming it. */
  resolve(value: Json): Json {
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    const node = value as Record<string, Json>;
    const keys = Object.keys(node);
    if (keys.length === 1) {
      const [key] = keys as [string];
      const arg = node[key];
      switch (key) {
        case 'Ref':
          return this.ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attribute] = (Array.isArray(arg) ? arg : String(arg).split('.')) as [string, string];
          return this.getAtt(id, attribute);
        }
        case 'Fn::Join': {
          const [separator, items] = arg as [string, Json[]];
          return (this.resolve(items) as Json[]).map(String).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [Json, Json];
          return (this.resolve(list) as Json[])[Number(this.resolve(index))];
        }
        case 'Fn::Split': {
          const [separator, source] = arg as [string, Json];
          return String(this.resolve(source)).split(separator);
        }
        case 'Fn::Sub': {
          const [text, variables] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, Json>];
          return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) =>
            String(name in variables ? this.resolve(variables[name]) : name.includes('.') ? this.getAtt(...(name.split('.') as [string, string])) : this.ref(name)),
          );
        }
        default:
          if (key.startsWith('Fn::')) throw new Error(`cannot resolve ${key} in ${JSON.stringify(value).slice(0, 200)}`);
      }
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, this.resolve(v)]));
  }

  private ref(name: string): string {
    switch (name) {
      case 'AWS::Partition':
        return PARTITION;
      case 'AWS::Region':
        return REGION;
      case 'AWS::AccountId':
        return ACCOUNT;
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return 'Sundial';
      case 'AWS::StackId':
        return `arn:${PARTITION}:cloudformation:${REGION}:${ACCOUNT}:stack/Sundial/00000000-1111-2222-3333-444444444444`;
    }
    const resource = this.resources[name];
    if (!resource) {
      // Parameters (asset hashes, SSM bootstrap version) are not IAM resources: their name stands for them.
      return name;
    }
    const physical = this.physicalName(name);
    if (REF_IS_ARN.has(resource.Type)) return this.arnOf(name, physical);
    return physical;
  }

  private getAtt(id: string, attribute: string): string {
    const resource = this.resource(id);
    if (attribute === 'Arn' || attribute.endsWith('Arn')) return this.arnOf(id, this.physicalName(id));
    if (resource.Type === 'AWS::ApiGatewayV2::Api' && attribute === 'ApiEndpoint') return `https://${this.physicalName(id)}.execute-api.${REGION}.amazonaws.com`;
    if (resource.Type === 'AWS::EC2::SecurityGroup' && attribute === 'GroupId') return `sg-${id.slice(0, 8).toLowerCase()}`;
    // Other attributes (ids, domain names) are opaque strings to IAM.
    return `${id}.${attribute}`;
  }

  private arnOf(id: string, physical: string): string {
    const resource = this.resource(id);
    const arn = ARN_OF[resource.Type];
    if (!arn) throw new Error(`no ARN format for ${resource.Type} (${id}): add it to test/iam/template.ts`);
    // A name that is an ARN already (Ref of a queue) stays as it is.
    return physical.startsWith('arn:') ? physical : arn(physical);
  }

  /** Logical id of the one resource at construct path `path` (of `type`). */
  logicalIdAt(type: string, path: string): string {
    const found = Object.entries(this.resources).filter(([, r]) => r.Type === type && r.Metadata?.['aws:cdk:path'] === path);
    if (found.length !== 1) throw new Error(`expected one ${type} at ${path}, found ${found.length}`);
    return found[0]![0];
  }

  /** Every role of the template, resolved. */
  roles(): ResolvedRole[] {
    return Object.keys(this.resources)
      .filter((id) => this.resources[id]!.Type === 'AWS::IAM::Role')
      .map((id) => this.role(id));
  }

  /** A role with its trust policy and identity policies. */
  role(logicalId: string): ResolvedRole {
    const resource = this.resource(logicalId);
    const props = resource.Properties ?? {};
    const inline = ((props.Policies ?? []) as { PolicyName: Json; PolicyDocument: Json }[]).map((p) => ({
      name: String(this.resolve(p.PolicyName)),
      policy: this.resolve(p.PolicyDocument) as PolicyDocument,
    }));
    const attached = Object.entries(this.resources)
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy' && ((r.Properties?.Roles ?? []) as Json[]).some((ref) => (ref as { Ref?: string }).Ref === logicalId))
      .map(([id, r]) => ({ name: id, policy: this.resolve(r.Properties!.PolicyDocument) as PolicyDocument }));
    return {
      logicalId,
      path: String(resource.Metadata?.['aws:cdk:path'] ?? logicalId),
      arn: this.arnOf(logicalId, this.physicalName(logicalId)),
      trustPolicy: this.resolve(props.AssumeRolePolicyDocument) as PolicyDocument,
      identityPolicies: [...inline, ...attached],
      managedPolicyArns: (this.resolve(props.ManagedPolicyArns ?? []) as Json[]).map(String),
    };
  }

  /** The Lambda function `fn`: its ARN, name, resolved environment and role. */
  lambda(fn: FunctionName): { logicalId: string; arn: string; name: string; environment: Record<string, string>; role: ResolvedRole } {
    const logicalId = this.logicalIdAt('AWS::Lambda::Function', FUNCTION_PATHS[fn]);
    const props = this.resource(logicalId).Properties ?? {};
    const roleRef = props.Role as { 'Fn::GetAtt'?: [string, string] };
    const roleId = roleRef['Fn::GetAtt']?.[0];
    if (!roleId) throw new Error(`function ${fn} has a role that is not a role of the stack: ${JSON.stringify(props.Role)}`);
    const name = this.physicalName(logicalId);
    return {
      logicalId,
      arn: this.arnOf(logicalId, name),
      name,
      environment: this.resolve(props.Environment?.Variables ?? {}) as Record<string, string>,
      role: this.role(roleId),
    };
  }

  /** The state machine at construct path `path`: ARN, role and definition (resolved). */
  stateMachine(path: string): { arn: string; role: ResolvedRole; definition: { States: Record<string, any> }; logging: boolean } {
    const logicalId = this.logicalIdAt('AWS::StepFunctions::StateMachine', path);
    const props = this.resource(logicalId).Properties ?? {};
    const roleId = (props.RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return {
      arn: this.arnOf(logicalId, this.physicalName(logicalId)),
      role: this.role(roleId),
      definition: JSON.parse(String(this.resolve(props.DefinitionString))) as { States: Record<string, any> },
      logging: (props.LoggingConfiguration?.Destinations?.length ?? 0) > 0,
    };
  }
}

let synthesized: Promise<ResolvedTemplate> | undefined;

/**
 * The stack as `cdk deploy` would create it with an SES sender configured (so that the notify
 * function's SES grant exists). Synthesis costs tens of seconds on a busy machine, so the test files of
 * one run share it: the first to get here synthesizes into the run's directory (test/global-setup.ts),
 * the others wait for the file; outside that setup each file synthesizes.
 */
export function sundialTemplate(): Promise<ResolvedTemplate> {
  synthesized ??= templateJson().then((json) => new ResolvedTemplate(json as never));
  return synthesized;
}

const synth = () => synthSundial({ sundial: { notificationSender: SENDER } }).template.toJSON();

async function templateJson(): Promise<object> {
  const asl = process.env[TASK_DEFINITION_FILE_ENV];
  if (!asl) return synth();
  const file = join(dirname(asl), 'iam-template.json');
  try {
    // Whoever creates the lock synthesizes; a rename makes the file appear whole.
    writeFileSync(`${file}.lock`, String(process.pid), { flag: 'wx' });
  } catch {
    // Another test file holds the lock and is synthesizing: wait for its file, or synthesize after all.
    const written = await until(async () => existsSync(file), Boolean, 180_000).catch(() => false);
    return written ? (JSON.parse(readFileSync(file, 'utf8')) as object) : synth();
  }
  const json = synth();
  writeFileSync(`${file}.tmp`, JSON.stringify(json));
  renameSync(`${file}.tmp`, file);
  return json;
}
