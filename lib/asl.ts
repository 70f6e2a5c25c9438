/**
 * The synthesized state machine definition as plain ASL JSON, for the local runtime (which runs the
 * deployed definition with aws-local-stepfunctions) and for tests. CloudFormation resolves intrinsic
 * functions at deploy time; here they resolve to deterministic placeholders instead.
 */

/** Values that stand in for what only a deployment knows. */
export interface PlaceholderOptions {
  /** @default 'aws' */
  readonly partition?: string;
  /** @default 'local' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly account?: string;
  /** @default 'local' */
  readonly stackName?: string;
  /** @default 'amazonaws.com' */
  readonly urlSuffix?: string;
}

/** A template that has no such state machine, or a definition this helper cannot resolve. */
export class DefinitionExtractionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DefinitionExtractionError';
  }
}

interface Resource {
  Type?: string;
  Properties?: Record<string, unknown>;
}

type Template = { Resources?: Record<string, Resource> };

/** Service, ARN resource type and separator of the placeholder ARN of a resource type. */
const ARN_SHAPES: Record<string, { service: string; type: string; sep: ':' | '/' }> = {
  'AWS::Lambda::Function': { service: 'lambda', type: 'function', sep: ':' },
  'AWS::StepFunctions::StateMachine': { service: 'states', type: 'stateMachine', sep: ':' },
  'AWS::ECS::Cluster': { service: 'ecs', type: 'cluster', sep: '/' },
  'AWS::ECS::TaskDefinition': { service: 'ecs', type: 'task-definition', sep: '/' },
  'AWS::Batch::JobQueue': { service: 'batch', type: 'job-queue', sep: '/' },
  'AWS::Batch::JobDefinition': { service: 'batch', type: 'job-definition', sep: '/' },
  'AWS::Batch::ComputeEnvironment': { service: 'batch', type: 'compute-environment', sep: '/' },
  'AWS::IAM::Role': { service: 'iam', type: 'role', sep: '/' },
  'AWS::Logs::LogGroup': { service: 'logs', type: 'log-group', sep: ':' },
  'AWS::DynamoDB::GlobalTable': { service: 'dynamodb', type: 'table', sep: '/' },
  'AWS::DynamoDB::Table': { service: 'dynamodb', type: 'table', sep: '/' },
  'AWS::SecretsManager::Secret': { service: 'secretsmanager', type: 'secret', sep: ':' },
  'AWS::SQS::Queue': { service: 'sqs', type: '', sep: ':' },
  'AWS::SNS::Topic': { service: 'sns', type: '', sep: ':' },
};

/** Resource types whose `Ref` is their ARN (the others answer a name or an id). */
const REF_IS_ARN = new Set([
  'AWS::Batch::JobQueue',
  'AWS::Batch::JobDefinition',
  'AWS::Batch::ComputeEnvironment',
  'AWS::ECS::TaskDefinition',
  'AWS::StepFunctions::StateMachine',
  'AWS::SecretsManager::Secret',
  'AWS::SNS::Topic',
]);

/** Prefixes of the ids EC2 gives (`subnet-…`, `sg-…`), so that placeholders look like what they stand for. */
const ID_PREFIXES: Record<string, string> = {
  'AWS::EC2::Subnet': 'subnet-',
  'AWS::EC2::SecurityGroup': 'sg-',
  'AWS::EC2::VPC': 'vpc-',
};

class Resolver {
  private readonly partition: string;
  private readonly region: string;
  private readonly account: string;
  private readonly pseudo: Record<string, string>;

  constructor(
    private readonly resources: Record<string, Resource>,
    options: PlaceholderOptions,
  ) {
    this.partition = options.partition ?? 'aws';
    this.region = options.region ?? 'local';
    this.account = options.account ?? '000000000000';
    this.pseudo = {
      'AWS::Partition': this.partition,
      'AWS::Region': this.region,
      'AWS::AccountId': this.account,
      'AWS::StackName': options.stackName ?? 'local',
      'AWS::StackId': `arn:${this.partition}:cloudformation:${this.region}:${this.account}:stack/${options.stackName ?? 'local'}/00000000-0000-0000-0000-000000000000`,
      'AWS::URLSuffix': options.urlSuffix ?? 'amazonaws.com',
      'AWS::NoValue': '',
    };
  }

  private typeOf(logicalId: string): string {
    const resource = this.resources[logicalId];
    if (!resource) throw new DefinitionExtractionError(`the definition refers to ${logicalId}, which the template does not have`);
    return resource.Type ?? '';
  }

  private arn(logicalId: string): string {
    const type = this.typeOf(logicalId);
    const shape = ARN_SHAPES[type];
    if (!shape) {
      const service = type.split('::')[1]?.toLowerCase() ?? 'unknown';
      return `arn:${this.partition}:${service}:${this.region}:${this.account}:${logicalId}`;
    }
    const account = shape.service === 'iam' ? '' : this.account;
    const region = shape.service === 'iam' ? '' : this.region;
    const resource = shape.type ? `${shape.type}${shape.sep}${logicalId}` : logicalId;
    return `arn:${this.partition}:${shape.service}:${region}:${account}:${resource}`;
  }

  ref(name: string): string {
    const pseudo = this.pseudo[name];
    if (pseudo !== undefined) return pseudo;
    const type = this.typeOf(name);
    if (REF_IS_ARN.has(type)) return this.arn(name);
    return `${ID_PREFIXES[type] ?? ''}${name}`;
  }

  getAtt(logicalId: string, attribute: string): string {
    if (attribute === 'Arn' || attribute.endsWith('Arn')) return this.arn(logicalId);
    const type = this.typeOf(logicalId);
    if (attribute === 'GroupId' || attribute === 'VpcId' || attribute === 'SubnetId') return `${ID_PREFIXES[type] ?? ''}${logicalId}`;
    if (attribute === 'Name' || attribute.endsWith('Name')) return logicalId;
    return `${logicalId}.${attribute}`;
  }

  /** Resolves every intrinsic function in `value`. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) return this.intrinsic(key, arg);
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  private text(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved === 'string') return resolved;
    if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
    throw new DefinitionExtractionError(`expected a string, got ${JSON.stringify(resolved)}`);
  }

  private intrinsic(fn: string, arg: unknown): unknown {
    switch (fn) {
      case 'Ref':
        return this.ref(String(arg));
      case 'Fn::GetAtt': {
        const [id, ...attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
        return this.getAtt(id ?? '', attribute.join('.'));
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown];
        const list = this.resolve(parts);
        if (!Array.isArray(list)) throw new DefinitionExtractionError('Fn::Join expects a list');
        return list.map((part) => this.text(part)).join(separator);
      }
      case 'Fn::Sub': {
        const [template, variables] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
        return template.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
          if (variables && name in variables) return this.text(variables[name]);
          if (name in this.pseudo) return this.pseudo[name] as string;
          const [id, ...attribute] = name.split('.');
          return attribute.length > 0 ? this.getAtt(id ?? '', attribute.join('.')) : this.ref(name);
        });
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        const resolved = this.resolve(list);
        if (!Array.isArray(resolved)) throw new DefinitionExtractionError('Fn::Select expects a list');
        return resolved[Number(this.resolve(index))];
      }
      case 'Fn::Split': {
        const [separator, source] = arg as [string, unknown];
        return this.text(source).split(separator);
      }
      case 'Fn::GetAZs':
        return [`${this.region}a`, `${this.region}b`, `${this.region}c`];
      default:
        throw new DefinitionExtractionError(`cannot resolve ${fn} in a state machine definition`);
    }
  }
}

/**
 * The ASL definition of the one `AWS::StepFunctions::StateMachine` of `template` whose logical id
 * contains `logicalIdContains`, with intrinsic functions resolved to placeholders:
 * `arn:aws:lambda:local:000000000000:function:<LogicalId>` for a function's ARN, `local` for the region
 * and `000000000000` for the account (see {@link PlaceholderOptions}), `subnet-<LogicalId>` for a subnet,
 * and so on. `DefinitionSubstitutions` are applied.
 *
 * @param template a synthesized template (`Template.toJSON()` or a `*.template.json` file)
 */
export function extractDefinition(
  template: object,
  logicalIdContains = 'TaskStateMachine',
  options: PlaceholderOptions = {},
): Record<string, unknown> {
  const resources = (template as Template).Resources ?? {};
  const matches = Object.entries(resources).filter(
    ([id, resource]) => resource.Type === 'AWS::StepFunctions::StateMachine' && id.includes(logicalIdContains),
  );
  if (matches.length !== 1) {
    throw new DefinitionExtractionError(
      `expected one AWS::StepFunctions::StateMachine whose logical id contains "${logicalIdContains}", found ${matches.length}` +
        (matches.length > 1 ? ` (${matches.map(([id]) => id).join(', ')})` : ''),
    );
  }
  const [id, stateMachine] = matches[0]!;
  const resolver = new Resolver(resources, options);
  const raw = stateMachine.Properties?.DefinitionString ?? stateMachine.Properties?.Definition;
  if (raw === undefined) throw new DefinitionExtractionError(`state machine ${id} has no DefinitionString (an S3 definition cannot be read here)`);
  let text = typeof raw === 'object' && raw !== null && !isIntrinsic(raw) ? JSON.stringify(resolver.resolve(raw)) : String(resolver.resolve(raw));
  const substitutions = (stateMachine.Properties?.DefinitionSubstitutions ?? {}) as Record<string, unknown>;
  for (const [name, value] of Object.entries(substitutions)) {
    text = text.split(`\${${name}}`).join(String(resolver.resolve(value)));
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new DefinitionExtractionError(`the definition of ${id} is not JSON once resolved: ${(err as Error).message}`);
  }
}

function isIntrinsic(value: object): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0]?.startsWith('Fn::') ?? false));
}
