// The per-app half of bluegreen: one per app (one ECS service pair behind one
// ALB). It writes the app's config document and grants the shared switcher's
// functions exactly what they need for THIS app's resources, each function
// only what it calls.

import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { appConfigDocument, MonitorThresholds, Strategy } from './app-config';
import { acknowledgeWildcards } from './nag';
import { BlueGreenSwitcher, FunctionKey } from './switcher';

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
  /** Desired count of the previous color after the warm window. @default 0 */
  readonly idleCapacityAfterWindow?: number;
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
}

export class BlueGreenApp extends Construct {
  public readonly appName: string;
  public readonly configParameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: BlueGreenAppProps) {
    super(scope, id);
    const { switcher, appName } = props;
    this.appName = appName;
    switcher.registerApp(appName);
    const alertTopic = props.alertTopic ?? switcher.alertTopic;

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
      minHealthyFraction: props.minHealthyFraction,
      alertTopicArn: alertTopic.topicArn,
    });
    this.configParameter = new ssm.StringParameter(this, 'Config', {
      parameterName: `${switcher.prefix}/${appName}/config`,
      description: `bluegreen config of ${appName} (docs/config.md)`,
      stringValue: Stack.of(this).toJsonString(document),
    });

    // At synth, when every container has been added.
    this.node.addValidation({ validate: () => containerProblems(props) });
    this.grant(props, alertTopic);
  }

  private grant(props: BlueGreenAppProps, alertTopic: sns.ITopic): void {
    const stack = Stack.of(this);
    const parameters = (leaf: string) =>
      stack.formatArn({
        service: 'ssm',
        resource: 'parameter',
        resourceName: `${props.switcher.prefix.slice(1)}/${props.appName}/${leaf}`,
      });
    // Every function reads the app's parameters; some also write them.
    const ssmGrants = (...writes: string[]) => [
      new iam.PolicyStatement({ actions: ['ssm:GetParameter', ...writes], resources: [parameters('*')] }),
      // State, lock and active-environment are the Lambdas' to write; the
      // config is CloudFormation's. This keeps a function from re-pointing
      // an app at other target groups.
      ...(writes.length > 0
        ? [new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: writes, resources: [parameters('config')] })]
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
    const readRecords = new iam.PolicyStatement({ actions: ['ssm:GetParameters'], resources: [parameters('*')] });
    // ECS says what each color runs: the switch checks it before moving traffic.
    const describeServices = new iam.PolicyStatement({ actions: ['ecs:DescribeServices'], resources: services });
    const passRoles = taskRoles(props);

    const grants: Record<FunctionKey, iam.PolicyStatement[]> = {
      switch: [...ssmGrants('ssm:PutParameter'), readRecords, production, describeServices],
      rollback: [
        ...ssmGrants('ssm:PutParameter', 'ssm:DeleteParameter'),
        readRecords,
        production,
        scaleServices,
        ...publishAlerts,
      ],
      deployIdle: [
        ...ssmGrants('ssm:PutParameter', 'ssm:DeleteParameter'),
        readRecords,
        // deploy-idle points the test route at the idle color.
        ...(props.test ? [modifyRoute(props.test)] : []),
        scaleServices,
        ...(passRoles.length > 0
          ? [
              new iam.PolicyStatement({
                actions: ['iam:PassRole'],
                resources: passRoles.map((r) => r.roleArn),
                conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
              }),
            ]
          : []),
      ],
      smokeTest: ssmGrants(),
      monitor: ssmGrants(),
    };
    // One policy per function and app: the shared roles' default policies
    // stay app-free, and removing the app removes exactly its grants.
    for (const [key, statements] of Object.entries(grants) as [FunctionKey, iam.PolicyStatement[]][]) {
      const policy = new iam.Policy(this, `${key[0].toUpperCase()}${key.slice(1)}Grants`, {
        roles: [props.switcher.role(key)],
        statements,
      });
      acknowledgeWildcards(
        policy,
        { resources: [parameters('*')] },
        `only this app's parameters (${props.switcher.prefix}/${props.appName}/…: state, lock, ` +
          'active-environment and the others the Lambdas keep per app, which they create and delete as ' +
          'deployments run); writing the config parameter is explicitly denied',
      );
    }
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
