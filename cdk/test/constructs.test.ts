// The constructs outside the example: imported resources, a rule-based
// route, the config document's validation, and props that must be refused.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { appConfigDocument, AppConfigValues, BlueGreenApp, BlueGreenAppProps, BlueGreenSwitcher } from '../lib';
import { logicalId, offlineApp, render, resourcesFor, statementsOf } from './helpers';

const ARN = {
  cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/prod',
  blue: 'arn:aws:ecs:us-east-1:123456789012:service/prod/cart-blue',
  green: 'arn:aws:ecs:us-east-1:123456789012:service/prod/cart-green',
  blueTg: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/cart-blue/1',
  greenTg: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/cart-green/2',
  listener: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/2',
  rule: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/3',
  testRule: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/2/4',
  taskRole: 'arn:aws:iam::123456789012:role/cart-task',
};

/** A switcher and an app on imported resources, moving traffic by a rule. */
function importedApp(overrides: Partial<BlueGreenAppProps> = {}) {
  const stack = new Stack(offlineApp(), 'Imported');
  const onCall = iam.Role.fromRoleArn(stack, 'OnCall', 'arn:aws:iam::123456789012:role/on-call');
  const switcher = new BlueGreenSwitcher(stack, 'Switcher', { emergencyPublishers: [onCall], prefix: '/deploys' });
  const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
    listenerArn: ARN.listener,
    securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1'),
  });
  const tg = (id: string, arn: string) =>
    elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, id, { targetGroupArn: arn });
  const app = new BlueGreenApp(stack, 'Cart', {
    switcher,
    appName: 'cart',
    cluster: ecs.Cluster.fromClusterArn(stack, 'Cluster', ARN.cluster),
    blue: { service: ecs.FargateService.fromServiceArnWithCluster(stack, 'Blue', ARN.blue), targetGroup: tg('BlueTg', ARN.blueTg) },
    green: {
      service: ecs.FargateService.fromServiceArnWithCluster(stack, 'Green', ARN.green),
      targetGroup: tg('GreenTg', ARN.greenTg),
      directUrl: 'http://cart-green.internal:8080',
    },
    production: { listener, rule: { listenerRuleArn: ARN.rule }, stickiness: Duration.minutes(5) },
    test: { listener, rule: { listenerRuleArn: ARN.testRule }, url: 'https://lb.internal' },
    strategy: { type: 'weighted', steps: [10, 50, 100], bake: Duration.minutes(5) },
    taskRoles: [iam.Role.fromRoleArn(stack, 'TaskRole', ARN.taskRole)],
    ...overrides,
  });
  return { stack, switcher, app };
}

describe('an app on imported resources with rule routes', () => {
  const { stack, switcher, app } = importedApp();
  const template = Template.fromStack(stack);

  test('switch and rollback may modify only the production rule; deploy-idle only the test rule', () => {
    for (const key of ['switch', 'rollback'] as const) {
      const s = statementsOf(template, logicalId(switcher.role(key)));
      assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyRule'), [ARN.rule], key);
      assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyListener'), [], key);
    }
    const s = statementsOf(template, logicalId(switcher.role('deployIdle')));
    assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyRule'), [ARN.testRule]);
    assert.deepEqual(resourcesFor(s, 'iam:PassRole'), [ARN.taskRole]);
  });

  test('the prefix is the functions’ and the grants’', () => {
    const s = statementsOf(template, logicalId(switcher.role('monitor')));
    assert.deepEqual(resourcesFor(s, 'ssm:GetParameter'), [
      'arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/deploys/cart/*',
    ]);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: { BLUEGREEN_PREFIX: '/deploys' } },
    });
  });

  test('the config holds the rules, stickiness, direct URL and weighted strategy', () => {
    const parameter = template.toJSON().Resources[logicalId(app.configParameter)].Properties;
    assert.equal(parameter.Name, '/deploys/cart/config');
    const config = JSON.parse(render(parameter.Value));
    assert.deepEqual(config.production, { listener_arn: ARN.listener, rule_arn: ARN.rule, stickiness_seconds: 300 });
    assert.deepEqual(config.test, { listener_arn: ARN.listener, rule_arn: ARN.testRule, url: 'https://lb.internal' });
    assert.deepEqual(config.green, {
      service: 'cart-green',
      target_group_arn: ARN.greenTg,
      direct_url: 'http://cart-green.internal:8080',
    });
    assert.deepEqual(config.strategy, { type: 'weighted', steps: [10, 50, 100], bake_seconds: 300 });
    assert.equal(config.cluster, 'prod');
  });
});

test('rollback may use the key of an encrypted alert topic', () => {
  const { stack, switcher } = importedApp();
  const key = new kms.Key(stack, 'Key');
  const topic = new sns.Topic(stack, 'Alerts', { masterKey: key });
  new BlueGreenApp(stack, 'Shop', { ...importedProps(stack, switcher), appName: 'shop', alertTopic: topic });
  const s = statementsOf(Template.fromStack(stack), logicalId(switcher.role('rollback')));
  assert.ok(resourcesFor(s, 'sns:Publish').includes(`<${logicalId(topic)}>`));
  assert.deepEqual(resourcesFor(s, 'kms:GenerateDataKey*'), [`<${logicalId(key)}.Arn>`]);
});

describe('refused props', () => {
  test('an imported service without taskRoles', () => {
    assert.throws(() => importedApp({ taskRoles: undefined }), /taskRoles: .* is an imported service/);
  });

  test('two apps of one name on one switcher', () => {
    const { stack, switcher } = importedApp();
    assert.throws(() => new BlueGreenApp(stack, 'CartAgain', importedProps(stack, switcher)), /app `cart` is already served/);
  });

  test('a publisher without an ARN, or none at all', () => {
    const stack = new Stack(offlineApp(), 'S');
    assert.throws(
      () => new BlueGreenSwitcher(stack, 'A', { emergencyPublishers: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')] }),
      /not an IAM role or user/,
    );
    assert.throws(() => new BlueGreenSwitcher(stack, 'B', { emergencyPublishers: [] }), /at least one principal/);
  });

  test('a prefix the Lambdas would refuse', () => {
    const stack = new Stack(offlineApp(), 'S');
    const publisher = new iam.ArnPrincipal('arn:aws:iam::123456789012:role/on-call');
    for (const prefix of ['bluegreen', '/bluegreen/', '/a//b']) {
      assert.throws(() => new BlueGreenSwitcher(stack, `P${prefix}`, { emergencyPublishers: [publisher], prefix }), /prefix/);
    }
  });
});

/** The props the imported app was built with, to build it again. */
function importedProps(stack: Stack, switcher: BlueGreenSwitcher): BlueGreenAppProps {
  const find = (id: string) => stack.node.findChild(id) as any;
  return {
    switcher,
    appName: 'cart',
    cluster: find('Cluster'),
    blue: { service: find('Blue'), targetGroup: find('BlueTg') },
    green: { service: find('Green'), targetGroup: find('GreenTg') },
    production: { listener: find('Listener') },
    taskRoles: [],
  };
}

describe('the config document', () => {
  const base: AppConfigValues = {
    app: 'cart',
    cluster: 'prod',
    blue: { service: 'cart-blue', targetGroupArn: ARN.blueTg },
    green: { service: 'cart-green', targetGroupArn: ARN.greenTg },
    production: { listenerArn: ARN.listener },
  };

  test('leaves unset fields to the Lambdas’ defaults', () => {
    assert.deepEqual(appConfigDocument(base), {
      app: 'cart',
      cluster: 'prod',
      blue: { service: 'cart-blue', target_group_arn: ARN.blueTg },
      green: { service: 'cart-green', target_group_arn: ARN.greenTg },
      production: { listener_arn: ARN.listener },
    });
  });

  test('writes monitor thresholds in the documented units', () => {
    const doc = appConfigDocument({
      ...base,
      monitor: {
        max5xxRate: 0.02,
        maxP99: Duration.millis(800),
        minRequests: 10,
        alarmNames: ['cart-5xx'],
        probeUrl: 'https://cart.example.com/version',
        expectedVersionMarker: 'v2',
      },
    });
    assert.deepEqual(doc.monitor, {
      max_5xx_rate: 0.02,
      max_p99_ms: 800,
      min_requests: 10,
      alarm_names: ['cart-5xx'],
      probe_url: 'https://cart.example.com/version',
      expected_version_marker: 'v2',
    });
  });

  const refused: [string, Partial<AppConfigValues>, RegExp][] = [
    ['a path-unsafe app name', { app: 'a/b' }, /app: `a\/b` is not an app name/],
    ['decreasing steps', { strategy: { type: 'weighted', steps: [10, 5, 100] } }, /strategy.steps\[1\]: steps must increase/],
    ['steps not ending at 100', { strategy: { type: 'weighted', steps: [10, 50] } }, /the last step must be 100/],
    ['a weight over 100', { strategy: { type: 'weighted', steps: [10, 150] } }, /strategy.steps\[1\]: 150 is not a weight/],
    ['a 5xx rate over 1', { monitor: { max5xxRate: 5 } }, /monitor.max_5xx_rate/],
    ['stickiness over 7 days', { production: { listenerArn: ARN.listener, stickiness: Duration.days(8) } }, /stickiness_seconds/],
    ['a test URL that is not http(s)', { test: { listenerArn: ARN.listener, ruleArn: ARN.rule, url: 'lb:8080' } }, /test.url/],
    ['a negative idle capacity', { idleCapacityAfterWindow: -1 }, /idle_capacity_after_window: -1/],
  ];
  for (const [what, change, message] of refused) {
    test(`refuses ${what}, naming the field`, () => {
      assert.throws(() => appConfigDocument({ ...base, ...change }), message);
    });
  }
});
