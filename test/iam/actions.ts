/**
 * The one table of the harness: what IAM authorizes for each AWS SDK command Sundial's code sends —
 * the action, the resource ARN AWS checks it on, and the request context its conditions read. The
 * formats are those of the Service Authorization Reference
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html);
 * a command missing here fails the suite, naming it, so a new call cannot slip past unevaluated.
 */
import { ACCOUNT, PARTITION, REGION } from './template';

/** One SDK call, as recorded (./recorder.ts). */
export interface RecordedCall {
  /** The Lambda function whose code made it (local/function-context.ts), or undefined outside any. */
  function: string | undefined;
  /** SDK client without `Client`: `DynamoDB`, `SFN`, `Batch`, … */
  service: string;
  /** Command without `Command`: `Query`, `StartExecution`, … */
  command: string;
  input: Record<string, any>;
}

/** One question for IAM: may the role do `action` on `resource`, with `context`? */
export interface AuthorizationRequest {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

/** What the mapping needs to know about the deployment. */
export interface DeploymentFacts {
  /** The physical table name of a table name the code used (locally `sundial`). */
  tableName: (used: string) => string;
  /** The ECS cluster ARN, when a call names the cluster by name or not at all. */
  ecsClusterArn: string;
}

const arn = (service: string, resource: string, region = REGION) => `arn:${PARTITION}:${service}:${region}:${ACCOUNT}:${resource}`;

/** Bare address of `Name <address>` or `address`. */
const address = (value: string) => /<([^>]+)>/.exec(value)?.[1] ?? value;

function dynamodbTable(facts: DeploymentFacts, name: string, index?: string): string {
  return arn('dynamodb', `table/${facts.tableName(name)}${index ? `/index/${index}` : ''}`);
}

function batchEach(action: string) {
  return (input: Record<string, any>, facts: DeploymentFacts): AuthorizationRequest[] =>
    Object.keys(input.RequestItems ?? {}).map((table) => ({ action, resource: dynamodbTable(facts, table) }));
}

/** ECS names a cluster by name or ARN; IAM's `ecs:cluster` key holds the ARN. */
function clusterArn(cluster: string | undefined, facts: DeploymentFacts): string {
  if (!cluster) return facts.ecsClusterArn;
  return cluster.startsWith('arn:') ? cluster : arn('ecs', `cluster/${cluster}`);
}

type Mapping = (input: Record<string, any>, facts: DeploymentFacts) => AuthorizationRequest[];

/**
 * `Service.Command` → the authorizations AWS makes. Roles passed in a request are authorized too
 * (`iam:PassRole` on the role, `iam:PassedToService` the service that receives it).
 */
export const AUTHORIZATIONS: Record<string, Mapping> = {
  // DynamoDB: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html
  // An index Query is authorized on the index's ARN (table/<t>/index/<i>), not the table's.
  'DynamoDB.GetItem': (i, f) => [{ action: 'dynamodb:GetItem', resource: dynamodbTable(f, i.TableName) }],
  'DynamoDB.PutItem': (i, f) => [{ action: 'dynamodb:PutItem', resource: dynamodbTable(f, i.TableName) }],
  'DynamoDB.UpdateItem': (i, f) => [{ action: 'dynamodb:UpdateItem', resource: dynamodbTable(f, i.TableName) }],
  'DynamoDB.DeleteItem': (i, f) => [{ action: 'dynamodb:DeleteItem', resource: dynamodbTable(f, i.TableName) }],
  'DynamoDB.Query': (i, f) => [{ action: 'dynamodb:Query', resource: dynamodbTable(f, i.TableName, i.IndexName) }],
  'DynamoDB.Scan': (i, f) => [{ action: 'dynamodb:Scan', resource: dynamodbTable(f, i.TableName, i.IndexName) }],
  'DynamoDB.DescribeTable': (i, f) => [{ action: 'dynamodb:DescribeTable', resource: dynamodbTable(f, i.TableName) }],
  'DynamoDB.BatchGetItem': batchEach('dynamodb:BatchGetItem'),
  'DynamoDB.BatchWriteItem': batchEach('dynamodb:BatchWriteItem'),
  'DynamoDB.TransactWriteItems': (i, f) =>
    (i.TransactItems as Record<string, { TableName: string }>[]).map((item) => {
      const [kind, op] = Object.entries(item)[0]!;
      const action = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' }[kind];
      return { action: `dynamodb:${action}`, resource: dynamodbTable(f, op.TableName) };
    }),

  // Step Functions: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html
  'SFN.StartExecution': (i) => [{ action: 'states:StartExecution', resource: i.stateMachineArn }],
  'SFN.StopExecution': (i) => [{ action: 'states:StopExecution', resource: i.executionArn }],
  'SFN.DescribeExecution': (i) => [{ action: 'states:DescribeExecution', resource: i.executionArn }],
  // Listing is authorized on the state machine (or Map Run) listed, not on its executions.
  'SFN.ListExecutions': (i) => [{ action: 'states:ListExecutions', resource: i.stateMachineArn ?? i.mapRunArn }],

  // Batch: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbatch.html
  'Batch.ListJobs': () => [{ action: 'batch:ListJobs', resource: '*' }],
  'Batch.DescribeJobs': () => [{ action: 'batch:DescribeJobs', resource: '*' }],
  'Batch.DescribeJobDefinitions': () => [{ action: 'batch:DescribeJobDefinitions', resource: '*' }],
  'Batch.TerminateJob': (i) => [{ action: 'batch:TerminateJob', resource: arn('batch', `job/${i.jobId}`) }],
  'Batch.RegisterJobDefinition': (i) => [
    { action: 'batch:RegisterJobDefinition', resource: arn('batch', `job-definition/${i.jobDefinitionName}`) },
    // The roles a job definition names are passed to Batch (its container runs with them).
    ...[i.containerProperties?.executionRoleArn, i.containerProperties?.jobRoleArn]
      .filter((role): role is string => Boolean(role))
      .map((role) => ({ action: 'iam:PassRole', resource: role, context: { 'iam:PassedToService': 'batch.amazonaws.com' } })),
  ],

  // ECS: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html
  // ListTasks is authorized on container instances ("*"), scoped by the ecs:cluster condition key.
  'ECS.ListTasks': (i, f) => [{ action: 'ecs:ListTasks', resource: '*', context: { 'ecs:cluster': clusterArn(i.cluster, f) } }],
  'ECS.StopTask': (i, f) => {
    const cluster = clusterArn(i.cluster, f);
    const task = String(i.task).startsWith('arn:') ? String(i.task) : arn('ecs', `task/${cluster.split('/').at(-1)}/${i.task}`);
    return [{ action: 'ecs:StopTask', resource: task, context: { 'ecs:cluster': cluster } }];
  },
  'ECS.DescribeTaskDefinition': () => [{ action: 'ecs:DescribeTaskDefinition', resource: '*' }],
  // RegisterTaskDefinition supports no resource-level permission; ECS checks PassRole for each role named.
  'ECS.RegisterTaskDefinition': (i) => [
    { action: 'ecs:RegisterTaskDefinition', resource: '*' },
    ...[i.executionRoleArn, i.taskRoleArn]
      .filter((role): role is string => Boolean(role))
      .map((role) => ({ action: 'iam:PassRole', resource: role, context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } })),
  ],

  // EventBridge Scheduler: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridgescheduler.html
  // A schedule is schedule/<group>/<name>; the target's role is passed to Scheduler
  // (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role).
  'Scheduler.CreateSchedule': (i) => scheduleWrite('scheduler:CreateSchedule', i),
  'Scheduler.UpdateSchedule': (i) => scheduleWrite('scheduler:UpdateSchedule', i),
  'Scheduler.DeleteSchedule': (i) => [{ action: 'scheduler:DeleteSchedule', resource: scheduleArn(i) }],
  'Scheduler.GetSchedule': (i) => [{ action: 'scheduler:GetSchedule', resource: scheduleArn(i) }],

  // SES (v1 API): https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonses.html
  // In the sandbox SES authorizes the send against the sender's identity *and* each recipient's
  // (recipients must be verified identities there: https://docs.aws.amazon.com/ses/latest/dg/verify-addresses-and-domains.html,
  // https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html; the AccessDenied names the
  // recipient's identity: https://github.com/aws/aws-sdk-js/issues/3641).
  'SES.SendEmail': (i) => sesSend('ses:SendEmail', i.Source, [...(i.Destination?.ToAddresses ?? []), ...(i.Destination?.CcAddresses ?? []), ...(i.Destination?.BccAddresses ?? [])]),
  'SES.SendRawEmail': (i) => sesSend('ses:SendRawEmail', i.Source, i.Destinations ?? []),

  // Secrets Manager: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html
  'SecretsManager.GetSecretValue': (i) => [{ action: 'secretsmanager:GetSecretValue', resource: i.SecretId }],

  // Lambda: https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
  'Lambda.Invoke': (i) => [
    {
      action: 'lambda:InvokeFunction',
      resource: String(i.FunctionName).startsWith('arn:') ? i.FunctionName : arn('lambda', `function:${i.FunctionName}`),
    },
  ],

  // CloudWatch Logs: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
  'CloudWatchLogs.GetLogEvents': (i) => [
    { action: 'logs:GetLogEvents', resource: arn('logs', `log-group:${i.logGroupName}:log-stream:${i.logStreamName}`) },
  ],
};

function scheduleArn(i: Record<string, any>): string {
  return arn('scheduler', `schedule/${i.GroupName ?? 'default'}/${i.Name}`);
}

function scheduleWrite(action: string, i: Record<string, any>): AuthorizationRequest[] {
  return [
    { action, resource: scheduleArn(i) },
    ...(i.Target?.RoleArn ? [{ action: 'iam:PassRole', resource: String(i.Target.RoleArn), context: { 'iam:PassedToService': 'scheduler.amazonaws.com' } }] : []),
  ];
}

function sesSend(action: string, source: string, recipients: string[]): AuthorizationRequest[] {
  const from = address(source);
  const context = { 'ses:FromAddress': from, 'ses:Recipients': recipients.map(address) };
  const identities = [...new Set([from, ...recipients.map(address)])];
  return identities.map((identity) => ({ action, resource: arn('ses', `identity/${identity}`), context }));
}

/** The authorizations of one recorded call; an unmapped command throws, naming it. */
export function authorizationsOf(call: RecordedCall, facts: DeploymentFacts): AuthorizationRequest[] {
  const mapping = AUTHORIZATIONS[`${call.service}.${call.command}`];
  if (!mapping) {
    throw new Error(
      `${call.function ?? '(no function)'} called ${call.service}.${call.command}, which test/iam/actions.ts does not map to an IAM action: add it`,
    );
  }
  return mapping(call.input, facts);
}
