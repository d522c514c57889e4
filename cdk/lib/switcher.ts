// The shared half of bluegreen: one per account and region, serving every app.
// It owns the five Rust Lambdas, the deployment state machine and the
// emergency topic. It grants nothing about any app: each BlueGreenApp adds
// its own least-privilege grants to these functions' roles.

import * as path from 'path';
import { ArnFormat, CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { RustFunction, RustFunctionProps } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { acknowledgeWildcards } from './nag';
import { deploymentWorkflow } from './state-machine';

/** The Cargo workspace root: the asset root must see every member crate. */
const WORKSPACE_MANIFEST = path.join(__dirname, '..', '..', 'Cargo.toml');

/**
 * Template metadata key naming the Rust binary a Lambda runs. Tools that read
 * the synthesized template (the ASL export) find functions by it.
 */
export const BINARY_METADATA_KEY = 'bluegreen:binary';

const FUNCTIONS = {
  deployIdle: {
    binary: 'deploy-idle',
    timeout: Duration.seconds(30),
    description: 'puts a release on the idle color, checks it, releases the lock, scales down',
  },
  smokeTest: {
    binary: 'smoke-test',
    timeout: Duration.minutes(5),
    description: 'smoke-tests the idle color through its test route',
  },
  switch: {
    binary: 'switch',
    timeout: Duration.seconds(30),
    description: 'moves production traffic one step to the new color',
  },
  monitor: {
    binary: 'monitor',
    // One call watches a slice of the bake (at most 840 s, `slice_seconds`)
    // and stops 15 s before this deadline: Lambda's maximum, so a 10-minute
    // bake is usually one call.
    timeout: Duration.minutes(15),
    description: 'watches a slice of a bake: probes every few seconds, metrics every minute; breach, promote or continue',
  },
  rollback: {
    binary: 'rollback',
    timeout: Duration.seconds(30),
    description: 'moves all production traffic back to the previous color',
  },
} as const;

export type FunctionKey = keyof typeof FUNCTIONS;

/** Memory of the four workflow functions: they wait on AWS calls, not the CPU. */
const DEFAULT_MEMORY_MB = 256;
/**
 * Memory of the rollback function: 1769 MB is one full vCPU, so the TLS
 * handshakes of a cold start are quick. It runs rarely; this costs little.
 */
export const DEFAULT_ROLLBACK_MEMORY_MB = 1769;
/** Concurrent executions reserved for the rollback function. */
export const DEFAULT_ROLLBACK_RESERVED_CONCURRENCY = 5;

export interface BlueGreenSwitcherProps {
  /**
   * The only principals allowed to publish to the emergency topic (IAM roles
   * or users; anything with an AWS principal ARN). Everyone else is denied,
   * including other principals of this account.
   */
  readonly emergencyPublishers: iam.IPrincipal[];
  /** SSM parameter path all apps live under. @default '/bluegreen' */
  readonly prefix?: string;
  /**
   * Where apps' rollback alerts go unless an app names its own; also where
   * an emergency rollback that failed every asynchronous attempt is reported
   * (the rollback function's on-failure destination).
   * @default a new topic (encrypted with `topicKey` when given)
   */
  readonly alertTopic?: sns.ITopic;
  /** Pause between two readiness checks of the idle color. @default 15 seconds */
  readonly pollInterval?: Duration;
  /**
   * Retention of every function's log group and of the state machine's.
   * @default one month
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Concurrent executions reserved for the rollback function, so that an
   * account at its Lambda concurrency limit during an incident can still roll
   * back; also the most rollbacks that run at once. Taken from the account's
   * unreserved concurrency, which Lambda keeps at 100 or more: an account
   * whose limit is below 100 + this number cannot deploy the switcher until
   * the limit is raised. At least 1 (0 would throttle every rollback).
   * @default 5
   */
  readonly rollbackReservedConcurrency?: number;
  /**
   * Memory of the rollback function, in MB (128-10240). 1769 MB is one full
   * vCPU: the TLS handshakes of a cold start are faster, and it runs rarely.
   * @default 1769
   */
  readonly rollbackMemorySize?: number;
  /**
   * A KMS key encrypting the emergency topic and the alert topic the
   * switcher creates (not an `alertTopic` you pass). The emergency
   * publishers are granted `kms:GenerateDataKey` and `kms:Decrypt` on it
   * (where CDK can add to their policies), the rollback function what
   * publishing to the alert topic takes.
   * @default SNS topics without server-side encryption
   */
  readonly topicKey?: kms.IKey;
}

export class BlueGreenSwitcher extends Construct {
  public readonly prefix: string;
  public readonly functions: Record<FunctionKey, lambda.Function>;
  public readonly stateMachine: sfn.StateMachine;
  public readonly emergencyTopic: sns.Topic;
  public readonly alertTopic: sns.ITopic;
  private readonly appNames = new Set<string>();

  constructor(scope: Construct, id: string, props: BlueGreenSwitcherProps) {
    super(scope, id);
    this.prefix = props.prefix ?? '/bluegreen';
    // The Lambdas refuse any other shape (see AppStore::new).
    if (!/^(\/[^/]+)+$/.test(this.prefix)) {
      throw new Error(`prefix \`${this.prefix}\` must start with \`/\` and not end with one, e.g. \`/bluegreen\``);
    }
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const reserved = props.rollbackReservedConcurrency ?? DEFAULT_ROLLBACK_RESERVED_CONCURRENCY;
    if (!Number.isInteger(reserved) || reserved < 1) {
      throw new Error(
        `rollbackReservedConcurrency: ${reserved} is not a whole number of at least 1 (0 would throttle every rollback)`,
      );
    }
    const rollbackMemory = props.rollbackMemorySize ?? DEFAULT_ROLLBACK_MEMORY_MB;
    if (!Number.isInteger(rollbackMemory) || rollbackMemory < 128 || rollbackMemory > 10240) {
      throw new Error(`rollbackMemorySize: ${rollbackMemory} is not a whole number of MB between 128 and 10240`);
    }

    // Before the functions: the rollback function reports failed emergency
    // rollbacks to it.
    this.alertTopic =
      props.alertTopic ?? new sns.Topic(this, 'AlertTopic', { enforceSSL: true, masterKey: props.topicKey });

    const fn = (key: FunctionKey, options: Partial<RustFunctionProps> = {}) => {
      const spec = FUNCTIONS[key];
      const name = key[0].toUpperCase() + key.slice(1);
      // Every function logs to its own group, with a retention, and may
      // write only there: its own role instead of AWSLambdaBasicExecutionRole,
      // which would let it create and write any log group of the account.
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention });
      const role = new iam.Role(this, `${name}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `bluegreen ${spec.binary} function`,
      });
      logGroup.grantWrite(role);
      const f = new RustFunction(this, `${name}Function`, {
        manifestPath: WORKSPACE_MANIFEST,
        binaryName: spec.binary,
        runtime: 'provided.al2023',
        architecture: lambda.Architecture.ARM_64,
        memorySize: DEFAULT_MEMORY_MB,
        timeout: spec.timeout,
        description: `bluegreen ${spec.binary}: ${spec.description}`,
        environment: { BLUEGREEN_PREFIX: this.prefix },
        logGroup,
        role,
        ...options,
      });
      (f.node.defaultChild as lambda.CfnFunction).addMetadata(BINARY_METADATA_KEY, spec.binary);
      return f;
    };
    this.functions = {
      deployIdle: fn('deployIdle'),
      smokeTest: fn('smokeTest'),
      switch: fn('switch'),
      monitor: fn('monitor'),
      // Rolls back during incidents, when the account may be at its
      // concurrency limit: reserved concurrency keeps it runnable.
      // Asynchronous invocations (the emergency topic) are tried 3 times
      // within an hour; one that never succeeds is reported to the alert
      // topic (Lambda's invocation record: the request and the error).
      rollback: fn('rollback', {
        memorySize: rollbackMemory,
        reservedConcurrentExecutions: reserved,
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
        onFailure: new destinations.SnsDestination(this.alertTopic),
      }),
    };
    if (this.alertTopic.masterKey) {
      acknowledgeWildcards(
        this.role('rollback'),
        { actions: ['kms:GenerateDataKey*'] },
        'CDK\'s grant for publishing to the encrypted alert topic (the on-failure destination): the ' +
          'GenerateDataKey variants, on that topic\'s key only',
      );
    }
    this.grantAppIndependent();

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        deploymentWorkflow(this, this.functions, props.pollInterval ?? Duration.seconds(15)),
      ),
      logs: {
        destination: new logs.LogGroup(this, 'StateMachineLogs', { retention }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
      tracingEnabled: true,
    });
    this.grantOwnExecutions();
    // The state machine's role: CDK's LambdaInvoke grant also names each
    // function's versions and aliases; X-Ray and log delivery take `*`.
    const smRole = this.stateMachine.role;
    acknowledgeWildcards(
      smRole,
      { resources: Object.values(this.functions).map((f) => `${f.functionArn}:*`) },
      'lambda:InvokeFunction on the versions and aliases (`<arn>:*`) of the five bluegreen functions only, ' +
        'as CDK grants it for a LambdaInvoke task',
    );
    acknowledgeWildcards(
      smRole,
      { resources: ['*'] },
      'X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) and ' +
        'CloudWatch Logs log delivery (logs:CreateLogDelivery and its Get/Update/Delete/List/Describe calls) ' +
        'support no resource-level permissions; CDK adds them for tracing and logging, which the workflow needs',
    );

    this.emergencyTopic = this.createEmergencyTopic(props.emergencyPublishers, props.topicKey);

    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'EmergencyTopicArn', { value: this.emergencyTopic.topicArn });
    new CfnOutput(this, 'RollbackFunctionName', { value: this.functions.rollback.functionName });
  }

  /** Claims an app name: two apps with one name would share one config. */
  public registerApp(name: string): void {
    if (this.appNames.has(name)) {
      throw new Error(`app \`${name}\` is already served by switcher ${this.node.path}`);
    }
    this.appNames.add(name);
  }

  /** The execution role of one of the five functions. */
  public role(key: FunctionKey): iam.IRole {
    const role = this.functions[key].role;
    if (!role) throw new Error(`function ${key} has no role`);
    return role;
  }

  // Calls that AWS does not scope to resources, or that concern no app.
  private grantAppIndependent(): void {
    const describeLoadBalancers = new iam.PolicyStatement({
      actions: ['elasticloadbalancing:Describe*'],
      resources: ['*'], // ELB Describe* calls support no resource-level permissions
    });
    for (const key of ['deployIdle', 'switch', 'monitor', 'rollback'] as const) {
      this.functions[key].addToRolePolicy(describeLoadBalancers);
    }
    this.functions.deployIdle.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition', 'ecs:ListTaskDefinitions'],
        resources: ['*'], // task-definition calls support no resource-level permissions
      }),
    );
    // A new revision carries the current one's tags, and ECS authorizes tags
    // on create as ecs:TagResource: only for registering, only task definitions.
    this.functions.deployIdle.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['ecs:TagResource'],
        resources: [
          Stack.of(this).formatArn({ service: 'ecs', resource: 'task-definition', resourceName: '*' }),
        ],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
      }),
    );
    this.functions.monitor.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:GetMetricData', 'cloudwatch:DescribeAlarms'],
        resources: ['*'], // GetMetricData supports no resource-level permissions
      }),
    );
    // deploy-idle refuses a release whose config names an alarm that does not
    // exist (it would never fire), before it takes the lock.
    this.functions.deployIdle.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] }),
    );

    const onStar: Record<'deployIdle' | 'switch' | 'monitor' | 'rollback', string> = {
      deployIdle:
        'ELB Describe*, ECS RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions and CloudWatch DescribeAlarms',
      switch: 'ELB Describe*',
      monitor: 'ELB Describe* and CloudWatch GetMetricData, DescribeAlarms',
      rollback: 'ELB Describe*',
    };
    for (const [key, actions] of Object.entries(onStar) as [keyof typeof onStar, string][]) {
      acknowledgeWildcards(
        this.role(key),
        { resources: ['*'] },
        `only ${actions} on \`*\`: AWS supports no resource-level permissions for them. Every other call ` +
          'of this function is granted per app on that app\'s resources (BlueGreenApp; tested: no mutating ' +
          'action on `*` except RegisterTaskDefinition)',
      );
      acknowledgeWildcards(
        this.role(key),
        { actions: ['elasticloadbalancing:Describe*'] },
        'read-only calls (listeners, rules, target groups, target health) that ELB does not scope to ' +
          'resources; naming each would add no protection, only the risk of missing one the code calls',
      );
    }
    acknowledgeWildcards(
      this.role('deployIdle'),
      { resources: [Stack.of(this).formatArn({ service: 'ecs', resource: 'task-definition', resourceName: '*' })] },
      'ecs:TagResource only with ecs:CreateAction = RegisterTaskDefinition: tags of a revision being ' +
        'registered, whose ARN is not known beforehand',
    );
  }

  // deploy-idle asks whether a lock's holder still runs; rollback also stops it.
  // A separate policy rather than the roles' default ones: the functions
  // depend on their default policies and the state machine on the functions,
  // so naming the state machine there would be a dependency cycle.
  private grantOwnExecutions(): void {
    const executions = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const describe = new iam.Policy(this, 'DescribeExecutions', {
      roles: [this.role('deployIdle')],
      statements: [
        new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
      ],
    });
    const stop = new iam.Policy(this, 'StopExecutions', {
      roles: [this.role('rollback')],
      statements: [
        new iam.PolicyStatement({
          actions: ['states:DescribeExecution', 'states:StopExecution'],
          resources: [executions],
        }),
      ],
    });
    for (const policy of [describe, stop]) {
      acknowledgeWildcards(
        policy,
        { resources: [executions] },
        'the executions of this switcher\'s own state machine, whose names are chosen per deployment',
      );
    }
  }

  private createEmergencyTopic(publishers: iam.IPrincipal[], key?: kms.IKey): sns.Topic {
    if (publishers.length === 0) {
      throw new Error('emergencyPublishers: name at least one principal allowed to roll back');
    }
    const arns = publishers.flatMap(principalArns);
    // enforceSSL adds a Deny on publishing without TLS (aws:SecureTransport).
    const topic = new sns.Topic(this, 'EmergencyTopic', {
      enforceSSL: true,
      displayName: 'bluegreen emergency rollback',
      masterKey: key,
    });
    // Publishing to an encrypted topic takes the key too (exactly these two
    // calls; CDK's grantPublish would grant kms:GenerateDataKey*).
    for (const publisher of publishers) key?.grant(publisher, 'kms:Decrypt', 'kms:GenerateDataKey');
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EmergencyPublishers',
        actions: ['sns:Publish'],
        principals: publishers,
        resources: [topic.topicArn],
      }),
    );
    // An Allow alone would not keep out principals of this account whose own
    // IAM policies allow sns:Publish: an explicit Deny does.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'NobodyElse',
        effect: iam.Effect.DENY,
        actions: ['sns:Publish'],
        principals: [new iam.AnyPrincipal()],
        resources: [topic.topicArn],
        conditions: { ArnNotLike: { 'aws:PrincipalArn': arns } },
      }),
    );
    topic.addSubscription(new subs.LambdaSubscription(this.functions.rollback));
    return topic;
  }
}

/** The ARNs `aws:PrincipalArn` takes for a principal; only AWS principals have one. */
function principalArns(principal: iam.IPrincipal): string[] {
  const json = principal.policyFragment.principalJson;
  const others = Object.keys(json).filter((k) => k !== 'AWS');
  if (!json.AWS || others.length > 0) {
    throw new Error(
      `emergencyPublishers: ${principal} is not an IAM role or user (${others.join(', ')}); ` +
        'only principals with an ARN can be told apart from everyone else',
    );
  }
  return json.AWS;
}
