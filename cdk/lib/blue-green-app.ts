// The per-app half of bluegreen: one per app (one ECS service pair behind one
// ALB). It writes the app's config document; creates, for each of the
// switcher's five functions, the role that function assumes to act for THIS
// app (exactly what it calls, on this app's resources); and the app's own
// state machine, which releases this app only, so a deployer can be allowed
// to release one app and no other; and the rule that hands that state
// machine's failed, timed-out and stopped executions to the rollback function.

import { ArnFormat, CfnOutput, Duration, Stack, Tags, Token } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import { APP_NAME, appConfigDocument, Gates, Hook, Migrations, MonitorThresholds, Notifications, Strategy } from './app-config';
import { acknowledgeWildcards } from './nag';
import { appWorkflow } from './state-machine';
import { binaryOf, BlueGreenSwitcher, FUNCTION_KEYS, FunctionKey } from './switcher';

/** The tag that marks an app's two scalable targets as bluegreen's to change. */
export const SCALING_TAG = 'bluegreen:app';

/**
 * The statuses of an execution that ended without succeeding, as Step
 * Functions sends them to EventBridge: the rollback function hears of these.
 */
export const UNSUCCESSFUL_END_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

/**
 * How EventBridge retries handing an app's end event to the rollback
 * function: 4 times within the hour (see `createUnsuccessfulEndRule`).
 */
export const END_RULE_RETRY_POLICY = {
  maximumRetryAttempts: 4,
  maximumEventAgeInSeconds: Duration.hours(1).toSeconds(),
};

/** A listener rule by ARN; an `ApplicationListenerRule` is one. */
export type ListenerRuleRef = Pick<elbv2.ApplicationListenerRule, 'listenerRuleArn'>;

export interface Color {
  readonly service: ecs.IBaseService;
  readonly targetGroup: elbv2.IApplicationTargetGroup;
  /** A URL reaching this color directly (internal DNS), for smoke tests and probes. */
  readonly directUrl?: string;
}

export interface BlueGreenAppProps {
  readonly switcher: BlueGreenSwitcher;
  /** The app's name: `<prefix>/<appName>/config`; 1-64 of `A-Za-z0-9._-`. */
  readonly appName: string;
  readonly cluster: ecs.ICluster;
  readonly blue: Color;
  readonly green: Color;
  /** Traffic moves by the listener's default action, or by `rule` when given. */
  readonly production: {
    readonly listener: elbv2.IApplicationListener;
    readonly rule?: ListenerRuleRef;
    /**
     * Target-group stickiness written with every forward action, 1 second to
     * 7 days in whole seconds (`production.stickiness_seconds`). @default off
     */
    readonly stickiness?: Duration;
  };
  /** The route that always reaches the idle color; smoke tests use `url`. */
  readonly test?: {
    readonly listener: elbv2.IApplicationListener;
    readonly rule?: ListenerRuleRef;
    readonly url: string;
    /**
     * A path on `url` whose answer names the running version; smoke tests
     * wait until it names the release. Defaults to the path of the monitor's
     * probe URL.
     */
    readonly versionPath?: string;
    /** How long the test route may take to reach the release (default 60 s). */
    readonly routeTimeout?: Duration;
  };
  /**
   * The container whose image a release replaces. Needed only when the
   * services' task definition has more than one container; checked at synth
   * against task definitions defined in this CDK app.
   * @default the task definition's only container
   */
  readonly container?: string;
  /**
   * How long deploy-idle waits for the idle color to be stable and healthy
   * before the release fails (`deploy_timeout_seconds`); whole seconds.
   * @default 15 minutes
   */
  readonly deployTimeout?: Duration;
  /** @default all at once, 300 s bake (the Lambdas' default) */
  readonly strategy?: Strategy;
  /** Thresholds for the bake. @default the Lambdas' defaults for every threshold */
  readonly monitor?: MonitorThresholds;
  /** How long the previous color stays at full size after a switch. @default 24 hours */
  readonly warmWindow?: Duration;
  /**
   * Desired count of the previous color after the warm window (with
   * `autoscaling`, also its scalable target's minimum). @default 0
   */
  readonly idleCapacityAfterWindow?: number;
  /**
   * How long the color of a failed release (aborted, or rolled back) keeps
   * its tasks for people to look at, before it is scaled back to
   * `idleCapacityAfterWindow` (never while it has production weight, nor
   * once a newer release took it). Up to 7 days. @default 1 hour
   */
  readonly failedColorGrace?: Duration;
  /**
   * The previous color's size through the warm window, in percent of the
   * release's (1 to 100): a shared database's connections. Below 100 a
   * rollback in the window scales it up before traffic moves. @default 100
   */
  readonly warmCapacityPercent?: number;
  /**
   * Both services scale with Application Auto Scaling: the constructs that
   * hold their scalable targets (what `service.autoScaleTaskCount()`
   * returns, or a `ScalableTarget`). During a release the functions hold
   * each target's minimum at the task count the release needs, give the new
   * color the serving color's min/max at the switch, lower the old color's
   * minimum at scale-down and restore them on abort and rollback. Both are
   * tagged `bluegreen:app=<appName>`: the functions may change no scalable
   * target without that tag (tag imported targets the same way).
   * @default the services do not autoscale; bluegreen sets desired counts only
   */
  readonly autoscaling?: { readonly blue: IConstruct; readonly green: IConstruct };
  /**
   * The share of the serving color's running tasks a color must have healthy
   * (and desired) before production traffic moves onto it, by a switch or a
   * rollback. A rollback onto a thinner color scales it up first.
   * @default 1 (as many as serve now)
   */
  readonly minHealthyFraction?: number;
  /** Hears about every rollback. @default the switcher's alert topic */
  readonly alertTopic?: sns.ITopic;
  /**
   * Roles of the services' task definitions, which deploy-idle passes when it
   * registers a release's task definition.
   * @default the task and execution roles of both services, when they are
   * services defined in this CDK app; required for imported services
   */
  readonly taskRoles?: iam.IRole[];
  /**
   * A person's approval before traffic moves, and the hours a release may
   * start moving it (docs/config.md, "Gates"). @default no gates
   */
  readonly gates?: Gates;
  /**
   * The team's own checks and chores at fixed points of a release
   * (docs/hooks.md). HTTP hooks are signed with the SecureString
   * `<prefix>/<appName>/hooks-secret`, which you create; the functions acting
   * for this app may invoke the Lambda hooks. @default none
   */
  readonly hooks?: Hook[];
  /**
   * Which events go to the app's chat webhooks (docs/notifications.md); the
   * alert topic gets its alerts as AWS Chatbot custom notifications either
   * way. @default none
   */
  readonly notifications?: Notifications;
  /**
   * Database migrations the expand/contract way (docs/migrations.md): one-off
   * tasks of the release's task definition in the app's cluster, placed like
   * its services' tasks. @default none
   */
  readonly migrations?: Migrations;
}

export class BlueGreenApp extends Construct {
  public readonly appName: string;
  public readonly configParameter: ssm.StringParameter;
  /** Releases this app only: an execution whose input names another app fails at once. */
  public readonly stateMachine: sfn.StateMachine;
  /** The role each of the switcher's functions assumes to act for this app. */
  public readonly roles: Record<FunctionKey, iam.Role>;
  /**
   * Hears this app's executions that end without succeeding (failed,
   * timed out or stopped) and hands each event, unchanged, to the switcher's
   * rollback function.
   */
  public readonly unsuccessfulEndRule: events.Rule;
  /**
   * The end rule's name: the switcher's `endRulePrefix` and this app's name
   * (`BlueGreenSwitcher.endRuleName`).
   */
  public readonly unsuccessfulEndRuleName: string;
  private readonly prefix: string;

  constructor(scope: Construct, id: string, props: BlueGreenAppProps) {
    super(scope, id);
    const { switcher, appName } = props;
    this.appName = appName;
    this.prefix = switcher.prefix;
    if (Token.isUnresolved(appName)) {
      throw new Error('appName: a plain string, known at synth (it names the app\'s parameters and its end rule), not a token');
    }
    if (!APP_NAME.test(appName)) {
      throw new Error(`app: \`${appName}\` is not an app name: use 1 to 64 letters, digits, \`-\`, \`_\` or \`.\``);
    }
    this.unsuccessfulEndRuleName = switcher.registerApp(appName);
    const alertTopic = props.alertTopic ?? switcher.alertTopic;

    this.stateMachine = this.createStateMachine(switcher);
    this.roles = this.createRoles(props, alertTopic);
    this.unsuccessfulEndRule = this.createUnsuccessfulEndRule(switcher);
    if (props.autoscaling) {
      for (const target of [props.autoscaling.blue, props.autoscaling.green]) {
        Tags.of(target).add(SCALING_TAG, appName);
      }
    }

    const document = appConfigDocument({
      app: appName,
      cluster: props.cluster.clusterName,
      blue: colorValues(props.blue),
      green: colorValues(props.green),
      production: {
        listenerArn: props.production.listener.listenerArn,
        ruleArn: props.production.rule?.listenerRuleArn,
        stickiness: props.production.stickiness,
      },
      test: props.test && {
        listenerArn: props.test.listener.listenerArn,
        ruleArn: props.test.rule?.listenerRuleArn,
        url: props.test.url,
        versionPath: props.test.versionPath,
        routeTimeout: props.test.routeTimeout,
      },
      container: props.container,
      deployTimeout: props.deployTimeout,
      strategy: props.strategy,
      monitor: props.monitor,
      warmWindow: props.warmWindow,
      idleCapacityAfterWindow: props.idleCapacityAfterWindow,
      failedColorGrace: props.failedColorGrace,
      warmCapacityPercent: props.warmCapacityPercent,
      autoscaling: props.autoscaling !== undefined,
      minHealthyFraction: props.minHealthyFraction,
      alertTopicArn: alertTopic.topicArn,
      roles: {
        deployIdle: this.roles.deployIdle.roleArn,
        smokeTest: this.roles.smokeTest.roleArn,
        switch: this.roles.switch.roleArn,
        monitor: this.roles.monitor.roleArn,
        rollback: this.roles.rollback.roleArn,
      },
      gates: props.gates,
      hooks: props.hooks,
      notifications: props.notifications,
      migrations: props.migrations,
    });
    this.configParameter = new ssm.StringParameter(this, 'Config', {
      parameterName: `${switcher.prefix}/${appName}/config`,
      description: `bluegreen config of ${appName} (docs/config.md)`,
      stringValue: Stack.of(this).toJsonString(document),
    });

    // At synth, when every container has been added.
    this.node.addValidation({ validate: () => containerProblems(props) });
    this.node.addValidation({ validate: () => drainProblems(Stack.of(this), props) });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
  }

  /**
   * Lets `grantee` (a deploy pipeline's role) release this app, follow its
   * releases, approve or reject them at a gate, and read what `bluegreen status` and `deploy` read about it:
   * nothing of any other app, and none of this app's secrets.
   */
  public grantRelease(grantee: iam.IGrantable): iam.Grant {
    const start = this.stateMachine.grantStartExecution(grantee);
    this.stateMachine.grantExecution(grantee, 'states:DescribeExecution', 'states:GetExecutionHistory');
    // `bluegreen approve` / `reject` answer the token a release waits on at a
    // gate (recorded under `gate`).
    this.stateMachine.grantTaskResponse(grantee);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetParameter', 'ssm:GetParameters'],
      resourceArns: ['config', 'state', 'lock', 'rollback-fence', 'active-environment', 'gate'].map((leaf) =>
        this.parameterArn(leaf),
      ),
    });
    // `status` reads the weights the listener really has; ELB scopes no
    // Describe call to resources.
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['elasticloadbalancing:DescribeListeners', 'elasticloadbalancing:DescribeRules'],
      resourceArns: ['*'],
    });
    return start;
  }

  /** Every scalable target of this account and region (narrowed by tag where granted). */
  private scalableTargets(): string {
    return Stack.of(this).formatArn({
      service: 'application-autoscaling',
      resource: 'scalable-target',
      resourceName: '*',
    });
  }

  private parameterArn(leaf: string): string {
    return Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: `${this.prefix.slice(1)}/${this.appName}/${leaf}`,
    });
  }

  /** The workflow, behind a first state that admits this app only. */
  private createStateMachine(switcher: BlueGreenSwitcher): sfn.StateMachine {
    const machine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        appWorkflow(this, this.appName, switcher.functions, switcher.pollInterval),
      ),
      logs: {
        destination: new logs.LogGroup(this, 'StateMachineLogs', { retention: switcher.logRetention }),
        level: sfn.LogLevel.ALL,
        includeExecutionData: true,
      },
      tracingEnabled: true,
    });
    // CDK's LambdaInvoke grant also names each function's versions and
    // aliases; X-Ray and log delivery take `*`.
    acknowledgeWildcards(
      machine.role,
      { resources: Object.values(switcher.functions).map((f) => `${f.functionArn}:*`) },
      'lambda:InvokeFunction on the versions and aliases (`<arn>:*`) of the five bluegreen functions only, ' +
        'as CDK grants it for a LambdaInvoke task',
    );
    acknowledgeWildcards(
      machine.role,
      { resources: ['*'] },
      'X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) and ' +
        'CloudWatch Logs log delivery (logs:CreateLogDelivery and its Get/Update/Delete/List/Describe calls) ' +
        'support no resource-level permissions; CDK adds them for tracing and logging, which the workflow needs',
    );
    return machine;
  }

  /**
   * A release stopped from the console, timed out, or failed outside the
   * workflow's catches runs no rollback state: it may leave production split
   * with nobody watching. Step Functions reports such an end to EventBridge;
   * this rule hands the event, unchanged (no input transformer: the function
   * parses the raw event), to the rollback function, which confirms the end
   * with this app's rollback role (`states:DescribeExecution` on its own
   * executions, already granted), rolls back a release left with production
   * weight unless an emergency rollback fenced it, and alerts.
   */
  private createUnsuccessfulEndRule(switcher: BlueGreenSwitcher): events.Rule {
    const rule = new events.Rule(this, 'UnsuccessfulEndRule', {
      // Under the switcher's prefix: its one permission on the rollback
      // function admits every rule so named (no statement per app).
      ruleName: this.unsuccessfulEndRuleName,
      description: `bluegreen: releases of ${this.appName} that end without succeeding, to the rollback function`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        // This app's state machine only: each app has its own rule.
        detail: {
          stateMachineArn: [this.stateMachine.stateMachineArn],
          status: [...UNSUCCESSFUL_END_STATUSES],
        },
      },
    });
    // No dead-letter queue: the project has no such pattern (no SQS at all).
    // EventBridge invokes the function asynchronously, so this retry policy
    // covers only handing the event to Lambda (the Invoke call failing):
    // 4 retries within the hour instead of EventBridge's 185 over 24 hours,
    // since an event that waited longer would more likely find production
    // changed since (the function keeps its own queued events an hour too).
    // Once Lambda has the event, the function's asynchronous settings apply
    // (the switcher's: 2 retries within an hour, then the invocation record
    // to the alert topic), as for the emergency topic's messages.
    rule.addTarget(new UngrantedLambdaTarget(switcher.functions.rollback));
    return rule;
  }

  private createRoles(props: BlueGreenAppProps, alertTopic: sns.ITopic): Record<FunctionKey, iam.Role> {
    const { switcher } = props;
    const stack = Stack.of(this);
    const parameters = this.parameterArn('*');
    // Every function reads the app's parameters; some also write them.
    const ssmGrants = (...writes: string[]) => [
      new iam.PolicyStatement({ actions: ['ssm:GetParameter', ...writes], resources: [parameters] }),
      // State, lock and active-environment are the Lambdas' to write; the
      // config is CloudFormation's. This keeps a function from re-pointing
      // an app at other target groups or roles.
      ...(writes.length > 0
        ? [new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: writes, resources: [this.parameterArn('config')] })]
        : []),
    ];
    const services = [props.blue.service.serviceArn, props.green.service.serviceArn];
    const scaleServices = new iam.PolicyStatement({
      actions: ['ecs:UpdateService', 'ecs:DescribeServices'],
      resources: services,
    });
    const publishAlerts = [
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [alertTopic.topicArn] }),
      ...(alertTopic.masterKey
        ? [
            // What SNS calls for a publisher of an encrypted topic.
            new iam.PolicyStatement({
              actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
              resources: [alertTopic.masterKey.keyArn],
            }),
          ]
        : []),
    ];
    const production = modifyRoute(props.production);
    // The steps that decide from the world read config, state, lock and fence
    // in one call.
    const readRecords = new iam.PolicyStatement({ actions: ['ssm:GetParameters'], resources: [parameters] });
    // ECS says what each color runs: the switch checks it before moving traffic.
    const describeServices = new iam.PolicyStatement({ actions: ['ecs:DescribeServices'], resources: services });
    // ELB Describe* calls support no resource-level permissions.
    const describeLoadBalancers = new iam.PolicyStatement({ actions: ['elasticloadbalancing:Describe*'], resources: ['*'] });
    // deploy-idle refuses a release whose config names an alarm that does not
    // exist (it would never fire), before it takes the lock.
    const describeAlarms = new iam.PolicyStatement({ actions: ['cloudwatch:DescribeAlarms'], resources: ['*'] });
    // This app's releases: deploy-idle asks whether a lock's holder still
    // runs; rollback also stops it.
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${this.stateMachine.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const taskDefinitions = stack.formatArn({ service: 'ecs', resource: 'task-definition', resourceName: '*' });
    const passRoles = taskRoles(props);
    const clusterTasks = stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${props.cluster.clusterName}/*` });

    // Autoscaling: Application Auto Scaling names no scalable target ARN a
    // template can know (CloudFormation returns none), so the two targets
    // are told apart by their tag; DescribeScalableTargets takes no resource.
    const scaling = props.autoscaling
      ? [
          new iam.PolicyStatement({ actions: ['application-autoscaling:DescribeScalableTargets'], resources: ['*'] }),
          new iam.PolicyStatement({
            actions: ['application-autoscaling:RegisterScalableTarget'],
            resources: [this.scalableTargets()],
            conditions: {
              StringEquals: {
                [`aws:ResourceTag/${SCALING_TAG}`]: this.appName,
                'application-autoscaling:service-namespace': 'ecs',
                'application-autoscaling:scalable-dimension': 'ecs:service:DesiredCount',
              },
            },
          }),
          // Registering an ECS service's bounds is authorized on the service too.
          scaleServices,
        ]
      : [];

    // The functions that deliver hooks (smoke-test, monitor, rollback) may
    // invoke this app's Lambda hooks, and nothing else of Lambda.
    const hookFunctions = (props.hooks ?? []).flatMap((h) => (h.functionArn ? [h.functionArn] : []));
    const invokeHooks =
      hookFunctions.length > 0
        ? [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: hookFunctions })]
        : [];
    const grants: Record<FunctionKey, iam.PolicyStatement[]> = {
      switch: [
        ...ssmGrants('ssm:PutParameter'),
        readRecords,
        production,
        describeServices,
        describeLoadBalancers,
        ...scaling,
      ],
      rollback: [
        ...ssmGrants('ssm:PutParameter', 'ssm:DeleteParameter'),
        readRecords,
        production,
        scaleServices,
        describeLoadBalancers,
        new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [executions] }),
        ...publishAlerts,
        ...scaling,
        ...invokeHooks,
      ],
      deployIdle: [
        ...ssmGrants('ssm:PutParameter', 'ssm:DeleteParameter'),
        readRecords,
        // deploy-idle points the test route at the idle color.
        ...(props.test ? [modifyRoute(props.test)] : []),
        scaleServices,
        describeLoadBalancers,
        describeAlarms,
        // Scale-down alerts when the warm window ends on drift (production
        // moved by hand): it keeps the old color and tells the team.
        ...publishAlerts,
        new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
        new iam.PolicyStatement({
          actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition', 'ecs:ListTaskDefinitions'],
          resources: ['*'], // task-definition calls support no resource-level permissions
        }),
        // A new revision carries the current one's tags, and ECS authorizes
        // tags on create as ecs:TagResource: only for registering.
        new iam.PolicyStatement({
          actions: ['ecs:TagResource'],
          resources: [taskDefinitions],
          conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
        }),
        // Migrations (`migrations` in the config): one-off tasks of the
        // release's task definition in the app's cluster, found again by
        // their startedBy tag, stopped when they run out of time.
        new iam.PolicyStatement({
          actions: ['ecs:RunTask'],
          resources: [taskDefinitions],
          conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
        }),
        new iam.PolicyStatement({
          actions: ['ecs:ListTasks'],
          resources: ['*'], // ListTasks names no task; the cluster condition bounds it
          conditions: { ArnEquals: { 'ecs:cluster': props.cluster.clusterArn } },
        }),
        new iam.PolicyStatement({
          actions: ['ecs:DescribeTasks', 'ecs:StopTask'],
          resources: [clusterTasks],
        }),
        ...(passRoles.length > 0
          ? [
              new iam.PolicyStatement({
                actions: ['iam:PassRole'],
                resources: passRoles.map((r) => r.roleArn),
                conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
              }),
            ]
          : []),
        ...scaling,
      ],
      smokeTest: [...ssmGrants(), ...invokeHooks],
      monitor: [
        ...ssmGrants(),
        ...invokeHooks,
        describeLoadBalancers,
        new iam.PolicyStatement({
          actions: ['cloudwatch:GetMetricData', 'cloudwatch:DescribeAlarms'],
          resources: ['*'], // GetMetricData supports no resource-level permissions
        }),
      ],
    };
    const describeTargets = props.autoscaling ? ', Application Auto Scaling DescribeScalableTargets' : '';
    const onStar: Record<FunctionKey, string | undefined> = {
      deployIdle:
        'ELB Describe*, ECS RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions, ListTasks ' +
        "(only in this app's cluster, by condition) and CloudWatch " +
        `DescribeAlarms${describeTargets}`,
      switch: `ELB Describe*${describeTargets}`,
      monitor: 'ELB Describe* and CloudWatch GetMetricData, DescribeAlarms',
      rollback: `ELB Describe*${describeTargets}`,
      smokeTest: undefined,
    };
    const roles = {} as Record<FunctionKey, iam.Role>;
    for (const key of FUNCTION_KEYS) {
      const name = key[0].toUpperCase() + key.slice(1);
      // Only the switcher's function for this key may assume it.
      const role = new iam.Role(this, `${name}Role`, {
        path: switcher.appRolePath,
        assumedBy: new iam.ArnPrincipal(switcher.role(key).roleArn),
        description: `bluegreen ${binaryOf(key)} acting for ${this.appName}`,
      });
      // One policy per role: removing the app removes exactly its grants.
      const policy = new iam.Policy(this, `${name}Grants`, { roles: [role], statements: grants[key] });
      acknowledgeWildcards(
        policy,
        { resources: [parameters] },
        `only this app's parameters (${switcher.prefix}/${this.appName}/…: state, lock, ` +
          'active-environment and the others the Lambdas keep per app, which they create and delete as ' +
          'deployments run); writing the config parameter is explicitly denied',
      );
      const star = onStar[key];
      if (star) {
        acknowledgeWildcards(
          policy,
          { resources: ['*'] },
          `only ${star} on \`*\`: AWS supports no resource-level permissions for them. Every other call ` +
            'is granted on this app\'s resources (tested: no mutating action on `*` except RegisterTaskDefinition)',
        );
        acknowledgeWildcards(
          policy,
          { actions: ['elasticloadbalancing:Describe*'] },
          'read-only calls (listeners, rules, target groups, target health) that ELB does not scope to ' +
            'resources; naming each would add no protection, only the risk of missing one the code calls',
        );
      }
      if (key === 'deployIdle') {
        acknowledgeWildcards(
          policy,
          { resources: [taskDefinitions] },
          'ecs:TagResource only with ecs:CreateAction = RegisterTaskDefinition: tags of a revision being ' +
            'registered, whose ARN is not known beforehand; ecs:RunTask (migrations) only in this app\'s ' +
            'cluster, by condition, of the revision a release registers',
        );
        acknowledgeWildcards(
          policy,
          { resources: [clusterTasks] },
          "DescribeTasks and StopTask on the tasks of this app's cluster: a migration's task ARN is " +
            'assigned by ECS when it starts',
        );
      }
      if (props.autoscaling && (key === 'deployIdle' || key === 'switch' || key === 'rollback')) {
        acknowledgeWildcards(
          policy,
          { resources: [this.scalableTargets()] },
          `RegisterScalableTarget only on scalable targets tagged ${SCALING_TAG}=${this.appName} (this app's two), ` +
            'ECS service-count targets only: their ARNs carry an ID AWS assigns, which no template can name',
        );
      }
      if (key === 'deployIdle' || key === 'rollback') {
        acknowledgeWildcards(
          policy,
          { resources: [executions] },
          'the executions of this app\'s own state machine, whose names are chosen per deployment',
        );
      }
      roles[key] = role;
    }
    return roles;
  }
}

/**
 * A Lambda function as a rule's target, with the retry policy of the end
 * rules, and WITHOUT the resource-policy statement per rule that CDK's
 * `targets.LambdaFunction` always adds: the switcher's one permission for
 * rules under its `endRulePrefix` covers every app's rule.
 */
class UngrantedLambdaTarget implements events.IRuleTarget {
  constructor(private readonly fn: lambda.IFunction) {}

  public bind(): events.RuleTargetConfig {
    return { arn: this.fn.functionArn, retryPolicy: END_RULE_RETRY_POLICY };
  }
}

function colorValues(c: Color) {
  return { service: c.service.serviceName, targetGroupArn: c.targetGroup.targetGroupArn, directUrl: c.directUrl };
}

/** Traffic moves by the rule when there is one, else by the listener's default action. */
function modifyRoute(route: { listener: elbv2.IApplicationListener; rule?: ListenerRuleRef }) {
  return route.rule
    ? new iam.PolicyStatement({ actions: ['elasticloadbalancing:ModifyRule'], resources: [route.rule.listenerRuleArn] })
    : new iam.PolicyStatement({ actions: ['elasticloadbalancing:ModifyListener'], resources: [route.listener.listenerArn] });
}

/**
 * What deploy-idle would refuse at release time, for task definitions of this
 * CDK app: a `container` they do not have, or none named among several.
 */
/** AWS's deregistration delay when a target group does not set one. */
const DEFAULT_DEREGISTRATION_DELAY = 300;

/**
 * A warm window shorter than a color's deregistration delay would scale the
 * old color down while requests on it still drain: refused at synth for the
 * target groups this CDK app defines (deploy-idle stretches the wait for the
 * others, reading the delay from the target group).
 */
function drainProblems(stack: Stack, props: BlueGreenAppProps): string[] {
  const warm = props.warmWindow?.toSeconds() ?? 24 * 3600;
  const problems: string[] = [];
  for (const [name, color] of [
    ['blue', props.blue],
    ['green', props.green],
  ] as const) {
    const cfn = color.targetGroup.node.defaultChild;
    if (!(cfn instanceof elbv2.CfnTargetGroup)) continue; // imported: read at run time
    const attributes = (stack.resolve(cfn.targetGroupAttributes) ?? []) as Array<{ key: string; value: string }>;
    const set = attributes.find((a) => a.key === 'deregistration_delay.timeout_seconds')?.value;
    const delay = set === undefined ? DEFAULT_DEREGISTRATION_DELAY : Number(set);
    if (Number.isFinite(delay) && warm < delay) {
      problems.push(
        `warmWindow (${warm} s) is shorter than the ${name} target group's deregistration delay (${delay} s): ` +
          'scale-down would cut requests still draining; lengthen warmWindow or shorten deregistrationDelay',
      );
    }
  }
  return problems;
}

function containerProblems(props: BlueGreenAppProps): string[] {
  const services = [props.blue.service, props.green.service].filter((s) => s instanceof ecs.BaseService);
  // Both colors often share one task definition: one message each.
  const unique = services.filter((s, i) => services.findIndex((o) => o.taskDefinition === s.taskDefinition) === i);
  return unique.flatMap((s) => {
    const td = s.taskDefinition;
    const names = td.node.children
      .filter((c): c is ecs.ContainerDefinition => c instanceof ecs.ContainerDefinition)
      .map((c) => c.containerName);
    const wanted = props.container;
    if (wanted !== undefined && !Token.isUnresolved(wanted) && !names.includes(wanted)) {
      return [`container: the task definition of ${s.node.path} has no container \`${wanted}\` (it has: ${names.join(', ')})`];
    }
    if (wanted === undefined && names.length > 1) {
      return [
        `container: the task definition of ${s.node.path} has ${names.length} containers (${names.join(', ')}): ` +
          'name the one a release updates',
      ];
    }
    return [];
  });
}

function taskRoles(props: BlueGreenAppProps): iam.IRole[] {
  if (props.taskRoles) return props.taskRoles;
  return [props.blue.service, props.green.service].flatMap((s) => {
    if (!(s instanceof ecs.BaseService)) {
      throw new Error(
        `taskRoles: ${s.node.path} is an imported service; name the roles its task definition uses ` +
          '(task role and execution role), or [] if it has none',
      );
    }
    const td = s.taskDefinition;
    return td.executionRole ? [td.taskRole, td.executionRole] : [td.taskRole];
  });
}
