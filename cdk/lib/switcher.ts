// The shared half of bluegreen: one per account and region, serving every app.
// It owns the five Rust Lambdas and the emergency topic. Its functions' own
// roles may do nothing to any app: they read an app's config and assume the
// role that app's BlueGreenApp created for that function, scoped to that
// app's resources. So the switcher's policies do not grow with the number of
// apps, and one app's release cannot touch another's resources. Likewise the
// rollback function's resource policy: one statement admits every app's end
// rule, all named under the switcher's `endRulePrefix`.

import { createHash } from 'crypto';
import * as path from 'path';
import { CfnOutput, Duration, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { RustFunction, RustFunctionProps } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcards } from './nag';

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
    // People's rollbacks onto a cold previous color wait for it, up to two
    // minutes (`Patience::LAMBDA`, tries of about a second each).
    timeout: Duration.minutes(3),
    description: 'moves all production traffic back to the previous color',
  },
} as const;

export type FunctionKey = keyof typeof FUNCTIONS;

/** The five functions, in the order of a release. */
export const FUNCTION_KEYS: FunctionKey[] = ['deployIdle', 'smokeTest', 'switch', 'monitor', 'rollback'];

/** The Rust binary (and the config's `roles` key, with `_`) of a function. */
export function binaryOf(key: FunctionKey): string {
  return FUNCTIONS[key].binary;
}

/** EventBridge's longest rule name. */
const MAX_RULE_NAME = 64;

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
   * @default a new key of the switcher's, rotated yearly (unless
   * `unencryptedTopics`)
   */
  readonly topicKey?: kms.IKey;
  /**
   * Places the functions that make HTTP requests to your app in a VPC: to
   * reach an internal load balancer, a private test listener or hooks on a
   * private network. See {@link VpcPlacement}. @default outside any VPC
   */
  readonly vpcPlacement?: VpcPlacement;
  /**
   * Leave the topics the switcher creates without server-side encryption
   * (opt-out: encrypted is the default). Not with `topicKey`.
   * @default false
   */
  readonly unencryptedTopics?: boolean;
}

/**
 * Where the functions that make HTTP requests to your app run. In a VPC they
 * reach AWS through it: give their subnets a NAT gateway or interface VPC
 * endpoints for what they call (smoke-test: `ssm`, `sts`; the monitor also
 * `monitoring` and `elasticloadbalancing`), and a NAT gateway for chat
 * webhooks and hooks outside the VPC (cdk/README.md, the switcher's props).
 */
export interface VpcPlacement {
  readonly vpc: ec2.IVpc;
  /** @default the VPC's private subnets (with egress, else isolated) */
  readonly subnets?: ec2.SubnetSelection;
  /** @default a new security group, all outbound allowed, no inbound */
  readonly securityGroups?: ec2.ISecurityGroup[];
  /**
   * Which of them: the smoke tests (the test listener, `after-deploy` and
   * `before-switch` hooks) and the monitor (its probes of production,
   * `after-step` and `after-promote` hooks). The rollback stays outside: it
   * must work when the network does not (its `on-rollback` hooks are
   * best-effort).
   * @default both
   */
  readonly functions?: Array<'smokeTest' | 'monitor'>;
}

export class BlueGreenSwitcher extends Construct {
  public readonly prefix: string;
  public readonly functions: Record<FunctionKey, lambda.Function>;
  public readonly emergencyTopic: sns.Topic;
  /** The security groups of the functions placed in a VPC (`vpcPlacement`); allow them into your listeners. */
  public readonly functionsSecurityGroups: ec2.ISecurityGroup[];
  /** The key encrypting the topics the switcher created; none with `unencryptedTopics`. */
  public readonly topicKey?: kms.IKey;
  /**
   * The IAM path of the roles apps create for these functions: the functions
   * may assume roles under it (each role's trust policy names the one
   * function it is for).
   */
  public readonly appRolePath: string;
  /** Pause between two readiness checks of the idle color, in every app's state machine. */
  public readonly pollInterval: Duration;
  /** Retention of the functions' log groups and of every app's state machine logs. */
  public readonly logRetention: logs.RetentionDays;
  public readonly alertTopic: sns.ITopic;
  /**
   * What the name of every app's end rule (the EventBridge rule that hands
   * the rollback function the releases that end without succeeding) starts
   * with: `bluegreen-` and 8 hex digits of this switcher's construct address
   * (unique to its construct path, like `appRolePath`), then `-`. The rollback
   * function's one EventBridge permission admits rules under this prefix, so
   * its resource policy does not grow with the apps. Every switcher's prefix
   * has this length, so none is the start of another's.
   */
  public readonly endRulePrefix: string;
  private readonly appNames = new Set<string>();
  /** The end rule names given out, and the app each is for. */
  private readonly endRuleNames = new Map<string, string>();

  constructor(scope: Construct, id: string, props: BlueGreenSwitcherProps) {
    super(scope, id);
    this.prefix = props.prefix ?? '/bluegreen';
    // The Lambdas refuse any other shape (see AppStore::new).
    if (!/^(\/[^/]+)+$/.test(this.prefix)) {
      throw new Error(`prefix \`${this.prefix}\` must start with \`/\` and not end with one, e.g. \`/bluegreen\``);
    }
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.logRetention = retention;
    this.pollInterval = props.pollInterval ?? Duration.seconds(15);
    // Unique to this switcher (its construct path, which includes the stack).
    this.appRolePath = `/bluegreen/${this.node.addr.slice(0, 16)}/`;
    this.endRulePrefix = `bluegreen-${this.node.addr.slice(0, 8)}-`;
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

    // Encrypted by default: the topics carry who rolled back what and why.
    if (props.topicKey && props.unencryptedTopics) {
      throw new Error('topicKey and unencryptedTopics: give a key, or ask for unencrypted topics, not both');
    }
    const topicKey =
      props.topicKey ??
      (props.unencryptedTopics
        ? undefined
        : new kms.Key(this, 'TopicKey', {
            enableKeyRotation: true,
            description: 'bluegreen: encrypts the emergency and alert topics of this switcher',
          }));
    this.topicKey = topicKey;

    // Before the functions: the rollback function reports failed emergency
    // rollbacks to it.
    this.alertTopic =
      props.alertTopic ?? new sns.Topic(this, 'AlertTopic', { enforceSSL: true, masterKey: topicKey });

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
    const placement = props.vpcPlacement;
    const placed = new Set(placement?.functions ?? ['smokeTest', 'monitor']);
    let securityGroups = placement?.securityGroups;
    if (placement && !securityGroups) {
      securityGroups = [
        new ec2.SecurityGroup(this, 'FunctionsSecurityGroup', {
          vpc: placement.vpc,
          description: 'bluegreen functions that reach the app: outbound only',
          allowAllOutbound: true,
        }),
      ];
    }
    this.functionsSecurityGroups = securityGroups ?? [];
    const inVpc = (key: 'smokeTest' | 'monitor'): Partial<RustFunctionProps> =>
      placement && placed.has(key)
        ? { vpc: placement.vpc, vpcSubnets: placement.subnets, securityGroups }
        : {};
    this.functions = {
      deployIdle: fn('deployIdle'),
      smokeTest: fn('smokeTest', inVpc('smokeTest')),
      switch: fn('switch'),
      monitor: fn('monitor', inVpc('monitor')),
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
    for (const key of ['smokeTest', 'monitor'] as const) {
      if (placement && placed.has(key)) {
        acknowledge(
          this.role(key),
          'AwsSolutions-IAM4',
          'AWSLambdaVPCAccessExecutionRole, which Lambda needs to attach the function to the VPC: the ' +
            'network-interface calls it grants support no resource-level permissions',
        );
      }
    }
    if (this.alertTopic.masterKey) {
      acknowledgeWildcards(
        this.role('rollback'),
        { actions: ['kms:GenerateDataKey*'] },
        'CDK\'s grant for publishing to the encrypted alert topic (the on-failure destination): the ' +
          'GenerateDataKey variants, on that topic\'s key only',
      );
    }
    this.grantActingForApps();
    this.admitEndRules();

    this.emergencyTopic = this.createEmergencyTopic(props.emergencyPublishers, topicKey);

    new CfnOutput(this, 'EmergencyTopicArn', { value: this.emergencyTopic.topicArn });
    new CfnOutput(this, 'RollbackFunctionName', { value: this.functions.rollback.functionName });
  }

  /**
   * Claims an app name: two apps with one name would share one config. Also
   * claims the app's end rule name (`endRuleName`), which it returns.
   */
  public registerApp(name: string): string {
    if (this.appNames.has(name)) {
      throw new Error(`app \`${name}\` is already served by switcher ${this.node.path}`);
    }
    const rule = this.endRuleName(name);
    const other = this.endRuleNames.get(rule);
    if (other !== undefined) {
      throw new Error(`apps \`${other}\` and \`${name}\` would both name their end rule ${rule}: rename one`);
    }
    this.appNames.add(name);
    this.endRuleNames.set(rule, name);
    return rule;
  }

  /**
   * The name of an app's end rule: `endRulePrefix` and the app name when the
   * two fit EventBridge's 64 characters with one to spare (app names of up to
   * 44 characters); for a longer name, its first 36 characters, `-` and 8 hex
   * digits of the whole name's SHA-256, exactly 64 characters. A name kept
   * whole is at most 63 characters long, a shortened one 64: the two kinds
   * never meet, and two shortened names meet only if they start alike and
   * their hashes agree (`registerApp` refuses that).
   */
  public endRuleName(appName: string): string {
    if (Token.isUnresolved(appName) || !/^[A-Za-z0-9._-]+$/.test(appName)) {
      throw new Error(`endRuleName: \`${appName}\` is not a plain app name (letters, digits, \`.\`, \`-\`, \`_\`)`);
    }
    const whole = `${this.endRulePrefix}${appName}`;
    if (whole.length < MAX_RULE_NAME) return whole;
    const hash = createHash('sha256').update(appName).digest('hex').slice(0, 8);
    const kept = MAX_RULE_NAME - this.endRulePrefix.length - hash.length - 1;
    return `${this.endRulePrefix}${appName.slice(0, kept)}-${hash}`;
  }

  /** The execution role of one of the five functions. */
  public role(key: FunctionKey): iam.IRole {
    const role = this.functions[key].role;
    if (!role) throw new Error(`function ${key} has no role`);
    return role;
  }

  /**
   * All a function's own role may do about apps: read an app's config (which
   * names the roles) and assume the role an app created for it. Everything
   * else is in those per-app roles (BlueGreenApp).
   */
  private grantActingForApps(): void {
    const stack = Stack.of(this);
    const configs = stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: `${this.prefix.slice(1)}/*/config`,
    });
    const appRoles = stack.formatArn({
      service: 'iam',
      region: '',
      resource: 'role',
      resourceName: `${this.appRolePath.slice(1)}*`,
    });
    for (const key of FUNCTION_KEYS) {
      const role = this.role(key);
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [configs] }));
      role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sts:AssumeRole'], resources: [appRoles] }));
      acknowledgeWildcards(
        role,
        { resources: [configs] },
        'reads the config document of the app a request names (`<prefix>/<app>/config`: ARNs and thresholds, ' +
          'no secret), which says which role to assume for that app; nothing else under the prefix',
      );
      acknowledgeWildcards(
        role,
        { resources: [appRoles] },
        'assumes the roles apps create for the switcher\'s functions, all under this switcher\'s own IAM path; ' +
          'each role\'s trust policy admits this one function, and its policy only that app\'s resources',
      );
    }
  }

  /**
   * One permission for every app's end rule: EventBridge may invoke the
   * rollback function for a rule of this account and region whose name
   * starts with `endRulePrefix`. CDK's `LambdaFunction` target would add a
   * statement per rule, and Lambda caps a function's resource policy at
   * 20 KB (about 40 apps). Any rule under the prefix may invoke the function;
   * it acts only on what Step Functions confirms, with the named app's own
   * role, was a release of that app that ended (cdk/README.md).
   */
  private admitEndRules(): void {
    const stack = Stack.of(this);
    this.functions.rollback.addPermission('AppEndRules', {
      principal: new iam.ServicePrincipal('events.amazonaws.com'),
      action: 'lambda:InvokeFunction',
      sourceAccount: stack.account,
      sourceArn: stack.formatArn({ service: 'events', resource: 'rule', resourceName: `${this.endRulePrefix}*` }),
    });
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
