import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledgeWildcardResources } from './nag';

/** Properties of {@link SundialCompute}. */
export interface SundialComputeProps {
  /**
   * The VPC tasks run in.
   *
   * @default - a new VPC: 2 AZs, public subnets only, no NAT gateway (see {@link SundialCompute})
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The subnets of `vpc` tasks run in. Tasks get a public IP exactly when these are public subnets.
   *
   * @default - the private subnets with egress of `vpc` when it has some, else its public subnets
   */
  readonly subnets?: ec2.SubnetSelection;

  /**
   * Most vCPUs the Batch compute environment runs at once (all jobs together).
   *
   * @default 256
   */
  readonly maxvCpus?: number;

  /**
   * Run Batch jobs on Fargate Spot (about 70 % cheaper; a job may be interrupted, which fails the
   * attempt and lets Sundial retry it).
   *
   * @default false
   */
  readonly spot?: boolean;

  /**
   * Retention of the task output log group and the VPC flow log group.
   *
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What happens to the log groups when they leave the stack.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Where Sundial's task attempts run: AWS Batch on Fargate (`shell_script_command`,
 * `batch_image_command`) and an ECS cluster for Fargate tasks (`docker_image_command`), in one VPC,
 * with one task execution role and one log group for task output.
 *
 * The default network is the cheapest that works: public subnets in 2 AZs and no NAT gateway. Tasks
 * need outbound internet whatever the design — they pull public images (public.ecr.aws, Docker Hub)
 * and call back to the Sundial API, a public endpoint — so each gets a public IP and a security group
 * with no inbound rule. A NAT gateway would cost about $32 a month per AZ plus $0.045/GB before any
 * task runs; isolated subnets would need interface endpoints (ECR, logs, STS: about $7 a month each per
 * AZ) and could not reach Docker Hub or the API. A free S3 gateway endpoint keeps ECR image layers off
 * the internet gateway. Give `vpc` (and `subnets`) to run in private subnets behind your own NAT.
 */
export class SundialCompute extends Construct {
  /** The VPC tasks run in. */
  public readonly vpc: ec2.IVpc;

  /** The subnets tasks run in. */
  public readonly subnets: ec2.SelectedSubnets;

  /** Whether tasks get a public IP (true in public subnets, which have no NAT). */
  public readonly assignPublicIp: boolean;

  /** Security group of every task: no inbound rule, all outbound. */
  public readonly securityGroup: ec2.SecurityGroup;

  /** The Batch compute environment (Fargate or Fargate Spot). */
  public readonly computeEnvironment: batch.FargateComputeEnvironment;

  /** The default Batch job queue. */
  public readonly jobQueue: batch.JobQueue;

  /** The ECS cluster of `docker_image_command` tasks (Container Insights on). */
  public readonly cluster: ecs.Cluster;

  /** Role Fargate assumes to pull task images and write task output (Batch jobs and ECS tasks). */
  public readonly executionRole: iam.Role;

  /** Log group of task output (Batch streams `batch/…`, ECS streams `ecs/…`). */
  public readonly taskLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SundialComputeProps = {}) {
    super(scope, id);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const removalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;

    if (props.vpc) {
      this.vpc = props.vpc;
    } else {
      const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', { retention, removalPolicy });
      const vpc = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'Tasks', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
        flowLogs: {
          All: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup), trafficType: ec2.FlowLogTrafficType.ALL },
        },
        gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      });
      this.vpc = vpc;
    }
    const selection =
      props.subnets ?? (this.vpc.privateSubnets.length > 0 ? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : { subnetType: ec2.SubnetType.PUBLIC });
    this.subnets = this.vpc.selectSubnets(selection);
    this.assignPublicIp = this.subnets.hasPublic;

    this.securityGroup = new ec2.SecurityGroup(this, 'TaskSecurityGroup', {
      vpc: this.vpc,
      description: 'Sundial task attempts (Batch jobs, ECS tasks): no inbound, all outbound',
      allowAllOutbound: true,
    });

    this.taskLogGroup = new logs.LogGroup(this, 'TaskLogs', { retention, removalPolicy });

    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'Fargate task execution role of Sundial tasks: pulls images, writes task output',
    });
    this.taskLogGroup.grantWrite(this.executionRole);
    // Private images from this account's ECR; public images (public.ecr.aws, Docker Hub) need no grant.
    const repositories = Stack.of(this).formatArn({ service: 'ecr', resource: 'repository', resourceName: '*' });
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [repositories],
      }),
    );
    this.executionRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    acknowledgeWildcardResources(
      this.executionRole,
      [repositories, '*'],
      'Task images are named in process definitions at run time, so the role may pull from any ECR repository of ' +
        'this account (repository/*); ecr:GetAuthorizationToken supports no resource but "*". Log writes are ' +
        'limited to the task log group.',
    );

    this.computeEnvironment = new batch.FargateComputeEnvironment(this, 'ComputeEnvironment', {
      vpc: this.vpc,
      vpcSubnets: selection,
      securityGroups: [this.securityGroup],
      spot: props.spot ?? false,
      maxvCpus: props.maxvCpus ?? 256,
    });

    this.jobQueue = new batch.JobQueue(this, 'JobQueue', {
      computeEnvironments: [{ computeEnvironment: this.computeEnvironment, order: 1 }],
      // A job no compute environment can ever place would wait in RUNNABLE forever: cancel it, which
      // fails the attempt with the reason instead of hanging the run.
      jobStateTimeLimitActions: [
        { maxTime: Duration.minutes(10), reason: batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT },
        { maxTime: Duration.minutes(10), reason: batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE },
      ],
    });

    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
  }

  /** IDs of the subnets tasks run in. */
  public get subnetIds(): string[] {
    return this.subnets.subnetIds;
  }
}
