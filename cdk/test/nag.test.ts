// cdk-nag's AwsSolutions pack over the example stack and over stacks holding
// only the constructs: any error or warning not acknowledged fails. Findings
// are acknowledged next to their constructs, each with its reason
// (`Validations.of(construct).acknowledge`, see lib/nag.ts), never for a
// whole stack.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { BlueGreenApp, BlueGreenSwitcher, BlueGreenSwitcherProps } from '../lib';
import { ExampleStack } from '../lib/example-stack';
import { acknowledge } from '../lib/nag';
import { offlineApp } from './helpers';

/** Every finding of the pack in the stack, one line each: severity, rule, where, what. */
function findings(stack: Stack): string[] {
  // Synthesize first: some resources (default policies, permissions) are
  // completed only then.
  App.of(stack)!.synth();
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(stack);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}: ${v.description}`),
  );
}

function scalableTarget(stack: Stack, service: string) {
  return new appscaling.ScalableTarget(stack, `${service}Scaling`, {
    serviceNamespace: appscaling.ServiceNamespace.ECS,
    resourceId: `service/prod/${service}`,
    scalableDimension: 'ecs:service:DesiredCount',
    minCapacity: 1,
    maxCapacity: 10,
  });
}

/** A switcher and an app on imported resources: the constructs and nothing else. */
function constructsOnly(id: string, switcherProps: Partial<BlueGreenSwitcherProps> = {}, autoscaling = false) {
  const stack = new Stack(offlineApp(), id);
  const onCall = iam.Role.fromRoleArn(stack, 'OnCall', 'arn:aws:iam::123456789012:role/on-call');
  const switcher = new BlueGreenSwitcher(stack, 'Switcher', { emergencyPublishers: [onCall], ...switcherProps });
  const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
    listenerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/2',
    securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1'),
  });
  const service = (name: string) =>
    ecs.FargateService.fromServiceArnWithCluster(stack, name, `arn:aws:ecs:us-east-1:123456789012:service/prod/${name}`);
  const tg = (name: string) =>
    elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, `${name}Tg`, {
      targetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/1`,
    });
  new BlueGreenApp(stack, 'Cart', {
    switcher,
    appName: 'cart',
    cluster: ecs.Cluster.fromClusterArn(stack, 'Cluster', 'arn:aws:ecs:us-east-1:123456789012:cluster/prod'),
    blue: { service: service('cart-blue'), targetGroup: tg('cart-blue') },
    green: { service: service('cart-green'), targetGroup: tg('cart-green') },
    production: { listener },
    test: { listener, rule: { listenerRuleArn: `${listener.listenerArn.replace('listener/', 'listener-rule/')}/3` }, url: 'https://lb.internal' },
    taskRoles: [iam.Role.fromRoleArn(stack, 'TaskRole', 'arn:aws:iam::123456789012:role/cart-task')],
    autoscaling: autoscaling
      ? {
          blue: scalableTarget(stack, 'cart-blue'),
          green: scalableTarget(stack, 'cart-green'),
        }
      : undefined,
  });
  return stack;
}

describe('cdk-nag AwsSolutions', () => {
  test('the example stack: no finding left unacknowledged', () => {
    const stack = new ExampleStack(offlineApp(), 'BlueGreenExample');
    assert.deepEqual(findings(stack), []);
  });

  test('only the constructs, with defaults: no finding left unacknowledged', () => {
    assert.deepEqual(findings(constructsOnly('Constructs')), []);
  });

  test('only the constructs, services that autoscale: no finding left unacknowledged', () => {
    assert.deepEqual(findings(constructsOnly('Autoscaling', {}, true)), []);
  });

  test('only the constructs, topics encrypted with a key: no finding left unacknowledged', () => {
    const stack = constructsOnly('Encrypted');
    // A key made after the switcher cannot be passed to it: build a second one.
    const key = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
    new BlueGreenSwitcher(stack, 'EncryptedSwitcher', {
      emergencyPublishers: [iam.Role.fromRoleArn(stack, 'OnCall2', 'arn:aws:iam::123456789012:role/on-call')],
      topicKey: key,
    });
    assert.deepEqual(findings(stack), []);
  });

  test('a switcher whose smoke tests and monitor run in a VPC, an internal ALB: no finding left unacknowledged', () => {
    const stack = new Stack(offlineApp(), 'InVpc');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    acknowledge(vpc, 'AwsSolutions-VPC7', 'a test VPC: flow logs are the account\'s network setup');
    const alb = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: false });
    acknowledge(alb, 'AwsSolutions-ELB2', 'a test ALB: access logs are the account\'s choice');
    const tg = new elbv2.ApplicationTargetGroup(stack, 'Tg', { vpc, port: 8080, targetType: elbv2.TargetType.IP });
    const testListener = alb.addListener('Test', { port: 8080, open: false, defaultTargetGroups: [tg] });
    const switcher = new BlueGreenSwitcher(stack, 'Switcher', {
      emergencyPublishers: [iam.Role.fromRoleArn(stack, 'OnCall', 'arn:aws:iam::123456789012:role/on-call')],
      vpcPlacement: { vpc },
    });
    for (const sg of switcher.functionsSecurityGroups) testListener.connections.allowDefaultPortFrom(sg);
    assert.deepEqual(findings(stack), []);
  });

  test('the pack runs: an unacknowledged wildcard is found', () => {
    const stack = new Stack(offlineApp(), 'Careless');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    const found = findings(stack);
    assert.ok(found.some((f) => f.includes('AwsSolutions-IAM5[Action::s3:*]')), found.join('\n'));
  });

  test('every acknowledgement sits on a construct below a stack, with a reason of its own', () => {
    const stacks = [new ExampleStack(offlineApp(), 'BlueGreenExample'), constructsOnly('Constructs')];
    for (const stack of stacks) {
      App.of(stack)!.synth();
      // cdk-nag's acknowledgements only (CDK records some of its own).
      const acknowledged = stack.node.findAll().flatMap((c) =>
        c.node.metadata
          .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
          .flatMap((m) => Object.entries(m.data as Record<string, string>))
          .filter(([rule]) => /AwsSolutions-/.test(rule))
          .map(([rule, reason]) => ({ construct: c as IConstruct, rule, reason })),
      );
      assert.ok(acknowledged.length > 0);
      for (const { construct, rule, reason } of acknowledged) {
        const where = `${construct.node.path} ${rule}`;
        assert.ok(!Stack.isStack(construct) && !App.isApp(construct), `${where}: no stack-wide acknowledgement`);
        assert.ok(reason.length >= 60, `${where}: say why it is acceptable (${reason})`);
      }
    }
  });
});
