// The constructs outside the example: imported resources, a rule-based
// route, the config document's validation, and props that must be refused.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { CfnParameter, Duration, Stack, Token } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import {
  appConfigDocument,
  AppConfigValues,
  BlueGreenApp,
  BlueGreenAppProps,
  BlueGreenSwitcher,
  BlueGreenSwitcherProps,
  CONTRACT_SETTLE_SECONDS,
  FunctionKey,
  MetricCheck,
} from '../lib';
import {
  arnLike,
  inUsEast1,
  keyPaths,
  list,
  logicalId,
  offlineApp,
  render,
  resourcesFor,
  schemaCheckFields,
  schemaConfigFields,
  statementsOf,
} from './helpers';

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
      const s = statementsOf(template, logicalId(app.roles[key]));
      assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyRule'), [ARN.rule], key);
      assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyListener'), [], key);
    }
    const s = statementsOf(template, logicalId(app.roles.deployIdle));
    assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyRule'), [ARN.testRule]);
    assert.deepEqual(resourcesFor(s, 'iam:PassRole'), [ARN.taskRole]);
  });

  test('the prefix is the functions’ and the grants’', () => {
    const s = statementsOf(template, logicalId(app.roles.monitor));
    assert.deepEqual(resourcesFor(s, 'ssm:GetParameter'), [
      'arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/deploys/cart/*',
    ]);
    const own = statementsOf(template, logicalId(switcher.role('monitor')));
    assert.deepEqual(resourcesFor(own, 'ssm:GetParameter'), [
      'arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/deploys/*/config',
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

describe('an app with gates and hooks', () => {
  const hookFunction = 'arn:aws:lambda:us-east-1:123456789012:function:cart-checks';
  const { stack, app } = importedApp({
    gates: {
      approval: { beforeWeights: [100] },
      window: { timeZone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu'], from: '22:00', to: '06:00' },
    },
    hooks: [
      { at: 'after-deploy', functionArn: hookFunction, timeout: Duration.seconds(30) },
      { at: 'on-rollback', url: 'https://hooks.example.com/rollback', onFailure: 'continue' },
    ],
  });
  const template = Template.fromStack(stack);

  test('the config holds them in the documented shape', () => {
    const parameter = template.toJSON().Resources[logicalId(app.configParameter)].Properties;
    const config = JSON.parse(render(parameter.Value));
    assert.deepEqual(config.gates, {
      approval: { before_weights: [100] },
      window: { time_zone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu'], from: '22:00', to: '06:00' },
    });
    assert.deepEqual(config.hooks, [
      { at: 'after-deploy', function_arn: hookFunction, timeout_seconds: 30 },
      { at: 'on-rollback', url: 'https://hooks.example.com/rollback', on_failure: 'continue' },
    ]);
  });

  test('the functions that deliver hooks may invoke the Lambda hook, and only it; the others may not', () => {
    for (const key of ['smokeTest', 'monitor', 'rollback'] as const) {
      const s = statementsOf(template, logicalId(app.roles[key]));
      assert.deepEqual(resourcesFor(s, 'lambda:InvokeFunction'), [hookFunction], key);
    }
    for (const key of ['deployIdle', 'switch'] as const) {
      const s = statementsOf(template, logicalId(app.roles[key]));
      assert.deepEqual(resourcesFor(s, 'lambda:InvokeFunction'), [], key);
    }
  });
});

test('rollback may use the key of an encrypted alert topic', () => {
  const { stack, switcher } = importedApp();
  const key = new kms.Key(stack, 'Key');
  const topic = new sns.Topic(stack, 'Alerts', { masterKey: key });
  const shop = new BlueGreenApp(stack, 'Shop', { ...importedProps(stack, switcher), appName: 'shop', alertTopic: topic });
  const s = statementsOf(Template.fromStack(stack), logicalId(shop.roles.rollback));
  assert.ok(resourcesFor(s, 'sns:Publish').includes(`<${logicalId(topic)}>`));
  assert.deepEqual(resourcesFor(s, 'kms:GenerateDataKey'), [`<${logicalId(key)}.Arn>`]);
  assert.deepEqual(resourcesFor(s, 'kms:Decrypt'), [`<${logicalId(key)}.Arn>`]);
});

test('a deployer granted one app may release that app only, and read none of its secrets', () => {
  const { stack, switcher, app } = importedApp();
  const shop = new BlueGreenApp(stack, 'Shop', { ...importedProps(stack, switcher), appName: 'shop' });
  const deployer = new iam.Role(stack, 'Deployer', { assumedBy: new iam.AccountRootPrincipal() });
  app.grantRelease(deployer);
  const template = Template.fromStack(stack);
  const s = statementsOf(template, logicalId(deployer));
  assert.deepEqual(resourcesFor(s, 'states:StartExecution'), [`<${logicalId(app.stateMachine)}>`]);
  assert.ok(!JSON.stringify(s).includes(logicalId(shop.stateMachine)), 'nothing of the other app');
  const parameters = resourcesFor(s, 'ssm:GetParameter');
  assert.equal(parameters.length, 6);
  for (const p of parameters) assert.match(p, /parameter\/deploys\/cart\/(config|state|lock|rollback-fence|active-environment|gate)$/);
  // It may answer the token a release of this app waits on at a gate.
  assert.deepEqual(resourcesFor(s, 'states:SendTaskSuccess'), [`<${logicalId(app.stateMachine)}>`]);
  assert.deepEqual(resourcesFor(s, 'states:SendTaskFailure'), [`<${logicalId(app.stateMachine)}>`]);
  // CDK writes the executions' ARN from the state machine's (a Select of a Split).
  const executions = s.filter((x) => list(x.Action).includes('states:GetExecutionHistory'));
  assert.equal(executions.length, 1);
  assert.deepEqual(list(executions[0].Action).sort(), ['states:DescribeExecution', 'states:GetExecutionHistory']);
  const text = JSON.stringify(executions[0].Resource);
  assert.ok(text.includes(':execution:') && text.includes(logicalId(app.stateMachine)), text);
});

describe('two apps on one switcher: a rule each for releases that end without succeeding', () => {
  const { stack, switcher, app: cart } = importedApp();
  const shop = new BlueGreenApp(stack, 'Shop', { ...importedProps(stack, switcher), appName: 'shop' });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources;
  const rollbackArn = { 'Fn::GetAtt': [logicalId(switcher.functions.rollback), 'Arn'] };
  const endRules = `arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/${switcher.endRulePrefix}*`;

  test('each app\'s rule names only its own state machine, and exactly FAILED, TIMED_OUT and ABORTED', () => {
    const rules = Object.keys(template.findResources('AWS::Events::Rule')).sort();
    assert.deepEqual(rules, [logicalId(cart.unsuccessfulEndRule), logicalId(shop.unsuccessfulEndRule)].sort());
    for (const [app, other] of [[cart, shop], [shop, cart]] as const) {
      const rule = resources[logicalId(app.unsuccessfulEndRule)].Properties;
      assert.deepEqual(rule.EventPattern, {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { stateMachineArn: [{ Ref: logicalId(app.stateMachine) }], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
      });
      assert.ok(!JSON.stringify(rule).includes(logicalId(other.stateMachine)), `${app.appName}: nothing of the other app`);
      assert.deepEqual(
        rule.Targets,
        [{ Arn: rollbackArn, Id: 'Target0', RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 } }],
        `${app.appName}: the shared rollback function, the one target, with the retry policy and no input`,
      );
    }
  });

  test('each rule is named under the switcher\'s prefix, after its app', () => {
    assert.match(switcher.endRulePrefix, /^bluegreen-[0-9a-f]{8}-$/);
    for (const app of [cart, shop]) {
      const name = resources[logicalId(app.unsuccessfulEndRule)].Properties.Name;
      assert.equal(name, `${switcher.endRulePrefix}${app.appName}`);
      assert.equal(name, app.unsuccessfulEndRuleName);
      assert.ok(arnLike(inUsEast1(endRules), `arn:aws:events:us-east-1:123456789012:rule/${name}`), name);
    }
  });

  test('two rules, still one EventBridge permission on the rollback function: for every rule under the prefix', () => {
    const fromEvents = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
      (p) => p.Properties.Principal === 'events.amazonaws.com',
    );
    assert.equal(fromEvents.length, 1, JSON.stringify(fromEvents));
    const [p] = fromEvents;
    assert.deepEqual(p.Properties.FunctionName, rollbackArn);
    assert.equal(p.Properties.Action, 'lambda:InvokeFunction');
    assert.equal(render(p.Properties.SourceArn), endRules);
    assert.deepEqual(p.Properties.SourceAccount, { Ref: 'AWS::AccountId' });
    // The switcher's, on its rollback function, not an app's.
    const fromEventsIds = template.findResources('AWS::Lambda::Permission', { Properties: { Principal: 'events.amazonaws.com' } });
    const [id] = Object.keys(fromEventsIds);
    assert.equal(id, logicalId(switcher.functions.rollback.node.findChild('AppEndRules')));
  });

  test('with the switcher in another stack: the permission in the switcher\'s, the app\'s rule and no permission in the app\'s', () => {
    const app = offlineApp();
    const shared = new Stack(app, 'Shared');
    const sharedSwitcher = new BlueGreenSwitcher(shared, 'Switcher', {
      emergencyPublishers: [new iam.ArnPrincipal('arn:aws:iam::123456789012:role/on-call')],
    });
    const service = new Stack(app, 'Service');
    const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(service, 'Listener', {
      listenerArn: ARN.listener,
      securityGroup: ec2.SecurityGroup.fromSecurityGroupId(service, 'Sg', 'sg-1'),
    });
    const tg = (id: string, arn: string) => elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(service, id, { targetGroupArn: arn });
    const cartApp = new BlueGreenApp(service, 'Cart', {
      switcher: sharedSwitcher,
      appName: 'cart',
      cluster: ecs.Cluster.fromClusterArn(service, 'Cluster', ARN.cluster),
      blue: { service: ecs.FargateService.fromServiceArnWithCluster(service, 'Blue', ARN.blue), targetGroup: tg('BlueTg', ARN.blueTg) },
      green: { service: ecs.FargateService.fromServiceArnWithCluster(service, 'Green', ARN.green), targetGroup: tg('GreenTg', ARN.greenTg) },
      production: { listener },
      taskRoles: [],
    });
    const sharedTemplate = Template.fromStack(shared);
    const serviceTemplate = Template.fromStack(service);
    sharedTemplate.resourceCountIs('AWS::Events::Rule', 0);
    const fromEvents = Object.values(sharedTemplate.findResources('AWS::Lambda::Permission')).filter(
      (p) => p.Properties.Principal === 'events.amazonaws.com',
    );
    assert.equal(fromEvents.length, 1, 'the switcher\'s one permission for the end rules');
    assert.equal(
      render(fromEvents[0].Properties.SourceArn),
      `arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/${sharedSwitcher.endRulePrefix}*`,
    );
    serviceTemplate.resourceCountIs('AWS::Events::Rule', 1);
    serviceTemplate.resourceCountIs('AWS::Lambda::Permission', 0);
    const rule = serviceTemplate.toJSON().Resources[logicalId(cartApp.unsuccessfulEndRule)].Properties;
    assert.equal(rule.Name, `${sharedSwitcher.endRulePrefix}cart`);
    // The rollback function's ARN comes from the switcher's stack (an import).
    assert.match(JSON.stringify(rule.Targets[0].Arn), /Fn::ImportValue/);
  });
});

describe('end rule names', () => {
  const RULE_NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
  const { switcher } = importedApp();

  test('each switcher has its own prefix, all of one length, so none starts another\'s', () => {
    const app = offlineApp();
    const publishers = [new iam.ArnPrincipal('arn:aws:iam::123456789012:role/on-call')];
    const a = new Stack(app, 'A');
    const b = new Stack(app, 'B');
    const prefixes = [
      new BlueGreenSwitcher(a, 'Switcher', { emergencyPublishers: publishers }),
      new BlueGreenSwitcher(a, 'Other', { emergencyPublishers: publishers, prefix: '/other' }),
      new BlueGreenSwitcher(b, 'Switcher', { emergencyPublishers: publishers }),
      switcher,
    ].map((s) => s.endRulePrefix);
    assert.equal(new Set(prefixes).size, prefixes.length, prefixes.join(' '));
    for (const p of prefixes) {
      assert.match(p, /^bluegreen-[0-9a-f]{8}-$/);
      assert.ok(!prefixes.some((q) => q !== p && q.startsWith(p)), p);
    }
  });

  test('an app name of up to 44 characters is kept whole; a longer one is shortened to 64 with a hash', () => {
    const prefix = switcher.endRulePrefix;
    assert.equal(switcher.endRuleName('a'), `${prefix}a`);
    const longest = 'x'.repeat(64 - prefix.length - 1);
    assert.equal(longest.length, 44);
    assert.equal(switcher.endRuleName(longest), `${prefix}${longest}`);
    const names = ['y'.repeat(45), 'y'.repeat(46), 'y'.repeat(64), `${'y'.repeat(63)}z`, `${'y'.repeat(36)}-${'y'.repeat(8)}`];
    const ruleNames = names.map((n) => switcher.endRuleName(n));
    for (const [i, r] of ruleNames.entries()) {
      assert.match(r, RULE_NAME, r);
      assert.equal(r.length, 64, r);
      assert.ok(r.startsWith(`${prefix}${'y'.repeat(36)}-`), r);
      assert.match(r.slice(-9), /^-[0-9a-f]{8}$/, r);
      assert.equal(switcher.endRuleName(names[i]), r, 'the same name every synth');
    }
    assert.equal(new Set([...ruleNames, `${prefix}${longest}`]).size, names.length + 1, ruleNames.join('\n'));
  });

  test('an app of a 64-character name synthesizes, its rule named under the prefix', () => {
    const { stack, switcher: s } = importedApp();
    const name = `${'long-app-name.'.repeat(4)}${'z'.repeat(8)}`;
    assert.equal(name.length, 64);
    const long = new BlueGreenApp(stack, 'Long', { ...importedProps(stack, s), appName: name });
    const rule = Template.fromStack(stack).toJSON().Resources[logicalId(long.unsuccessfulEndRule)].Properties;
    assert.equal(rule.Name, s.endRuleName(name));
    assert.equal(rule.Name.length, 64);
    assert.ok(rule.Name.startsWith(s.endRulePrefix));
  });

  test('two apps whose shortened rule names would meet are refused', () => {
    // Same first 36 characters and the same first 8 hex digits of SHA-256
    // (found by a birthday search).
    const first = `${'x'.repeat(36)}-00001g4i`;
    const second = `${'x'.repeat(36)}-00002cfy`;
    assert.equal(switcher.endRuleName(first), switcher.endRuleName(second));
    const { stack, switcher: s } = importedApp();
    new BlueGreenApp(stack, 'First', { ...importedProps(stack, s), appName: first });
    assert.throws(
      () => new BlueGreenApp(stack, 'Second', { ...importedProps(stack, s), appName: second }),
      /would both name their end rule/,
    );
  });
});

/** Each color's scalable target, as a team's IaC registers it. */
function scalableTargets(stack: Stack, app: string) {
  const target = (color: string) =>
    new appscaling.ScalableTarget(stack, `${app}${color}Scaling`, {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      resourceId: `service/prod/${app}-${color}`,
      scalableDimension: 'ecs:service:DesiredCount',
      minCapacity: 1,
      maxCapacity: 10,
    });
  return { blue: target('blue'), green: target('green') };
}

describe('an app whose services autoscale', () => {
  const REGISTER = 'application-autoscaling:RegisterScalableTarget';
  function twoApps() {
    const { stack, switcher, app } = importedApp({ autoscaling: undefined });
    const cartTargets = scalableTargets(stack, 'cart');
    const shopTargets = scalableTargets(stack, 'shop');
    const cart = new BlueGreenApp(stack, 'CartScaled', {
      ...importedProps(stack, switcher),
      appName: 'cart-scaled',
      autoscaling: cartTargets,
    });
    const shop = new BlueGreenApp(stack, 'ShopScaled', {
      ...importedProps(stack, switcher),
      appName: 'shop-scaled',
      autoscaling: shopTargets,
    });
    return { stack, plain: app, cart, shop, cartTargets, shopTargets, template: Template.fromStack(stack) };
  }

  test('the config says so', () => {
    const { template, cart, plain } = twoApps();
    const config = (app: BlueGreenApp) =>
      JSON.parse(render(template.toJSON().Resources[logicalId(app.configParameter)].Properties.Value));
    assert.equal(config(cart).autoscaling, true);
    assert.equal(config(plain).autoscaling, undefined, 'an app that does not autoscale leaves it out');
  });

  test("each app's two scalable targets carry its tag, and its roles may change only targets with that tag", () => {
    const { template, cart, shop, cartTargets, shopTargets } = twoApps();
    const tags = (t: appscaling.ScalableTarget) =>
      template.toJSON().Resources[logicalId(t)].Properties.Tags as { Key: string; Value: string }[];
    for (const t of [cartTargets.blue, cartTargets.green]) assert.deepEqual(tags(t), [{ Key: 'bluegreen:app', Value: 'cart-scaled' }]);
    for (const t of [shopTargets.blue, shopTargets.green]) assert.deepEqual(tags(t), [{ Key: 'bluegreen:app', Value: 'shop-scaled' }]);
    for (const [app, name] of [[cart, 'cart-scaled'], [shop, 'shop-scaled']] as const) {
      for (const key of ['deployIdle', 'switch', 'rollback'] as FunctionKey[]) {
        const s = statementsOf(template, logicalId(app.roles[key]));
        const register = s.filter((x) => x.Effect === 'Allow' && list(x.Action).includes(REGISTER));
        assert.equal(register.length, 1, `${name} ${key}`);
        assert.deepEqual(list(register[0].Action), [REGISTER], 'nothing else on the targets: no deregistering, no policies');
        assert.match(render(register[0].Resource), /^arn:<AWS::Partition>:application-autoscaling:<AWS::Region>:<AWS::AccountId>:scalable-target\/\*$/);
        assert.deepEqual(register[0].Condition, {
          StringEquals: {
            'aws:ResourceTag/bluegreen:app': name,
            'application-autoscaling:service-namespace': 'ecs',
            'application-autoscaling:scalable-dimension': 'ecs:service:DesiredCount',
          },
        });
        assert.deepEqual(resourcesFor(s, 'application-autoscaling:DescribeScalableTargets'), ['*']);
      }
      for (const key of ['smokeTest', 'monitor'] as FunctionKey[]) {
        const text = JSON.stringify(statementsOf(template, logicalId(app.roles[key])));
        assert.ok(!text.includes('application-autoscaling'), `${name} ${key} touches no scalable target`);
      }
    }
  });

  test('an app that does not autoscale grants nothing of Application Auto Scaling', () => {
    const { template, plain } = twoApps();
    for (const key of KEYS) {
      const text = JSON.stringify(statementsOf(template, logicalId(plain.roles[key])));
      assert.ok(!text.includes('application-autoscaling'), key);
    }
  });
});

/** A stack holding only a switcher, its publisher a role of this stack. */
function switcherOnly(props: Partial<BlueGreenSwitcherProps> = {}) {
  const stack = new Stack(offlineApp(), 'SwitcherOnly');
  const onCall = new iam.Role(stack, 'OnCall', { assumedBy: new iam.AccountRootPrincipal() });
  const switcher = new BlueGreenSwitcher(stack, 'Switcher', { emergencyPublishers: [onCall], ...props });
  const template = Template.fromStack(stack);
  const fn = (key: FunctionKey) => template.toJSON().Resources[logicalId(switcher.functions[key])].Properties;
  return { stack, switcher, onCall, template, fn };
}
const KEYS: FunctionKey[] = ['deployIdle', 'smokeTest', 'switch', 'monitor', 'rollback'];

describe('the rollback function runs when the account is at its limits', () => {
  test('reserves 5 concurrent executions by default, only for rollback', () => {
    const { fn } = switcherOnly();
    assert.equal(fn('rollback').ReservedConcurrentExecutions, 5);
    for (const key of KEYS.filter((k) => k !== 'rollback')) {
      assert.equal(fn(key).ReservedConcurrentExecutions, undefined, key);
    }
    assert.equal(switcherOnly({ rollbackReservedConcurrency: 20 }).fn('rollback').ReservedConcurrentExecutions, 20);
  });

  test('refuses a reservation that would throttle every rollback, or is not whole', () => {
    for (const bad of [0, -1, 2.5]) {
      assert.throws(() => switcherOnly({ rollbackReservedConcurrency: bad }), /rollbackReservedConcurrency: /);
    }
  });

  test('has one full vCPU (1769 MB) by default; the others keep 256 MB', () => {
    const { fn } = switcherOnly();
    assert.equal(fn('rollback').MemorySize, 1769);
    for (const key of KEYS.filter((k) => k !== 'rollback')) assert.equal(fn(key).MemorySize, 256, key);
    assert.equal(switcherOnly({ rollbackMemorySize: 3008 }).fn('rollback').MemorySize, 3008);
    for (const bad of [64, 10241, 1769.5]) {
      assert.throws(() => switcherOnly({ rollbackMemorySize: bad }), /rollbackMemorySize: /);
    }
  });
});

describe('an emergency rollback that fails every asynchronous attempt', () => {
  test('is retried twice within an hour, then reported to the alert topic', () => {
    const { switcher, template } = switcherOnly();
    const configs = template.findResources('AWS::Lambda::EventInvokeConfig');
    assert.equal(Object.keys(configs).length, 1, 'only the rollback function is invoked asynchronously');
    assert.deepEqual(Object.values(configs)[0].Properties, {
      FunctionName: { Ref: logicalId(switcher.functions.rollback) },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: { Ref: logicalId(switcher.alertTopic) } } },
    });
    const s = statementsOf(template, logicalId(switcher.role('rollback')));
    assert.deepEqual(resourcesFor(s, 'sns:Publish'), [`<${logicalId(switcher.alertTopic)}>`]);
  });

  test('goes to the alert topic the switcher was given', () => {
    const stack = new Stack(offlineApp(), 'GivenTopic');
    const topic = sns.Topic.fromTopicArn(stack, 'Alerts', 'arn:aws:sns:us-east-1:123456789012:ops');
    const switcher = new BlueGreenSwitcher(stack, 'Switcher', {
      emergencyPublishers: [new iam.ArnPrincipal('arn:aws:iam::123456789012:role/on-call')],
      alertTopic: topic,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      DestinationConfig: { OnFailure: { Destination: topic.topicArn } },
    });
    assert.equal(Object.keys(template.findResources('AWS::SNS::Topic')).length, 1, 'no alert topic of its own');
    const s = statementsOf(template, logicalId(switcher.role('rollback')));
    assert.deepEqual(resourcesFor(s, 'sns:Publish'), [topic.topicArn]);
  });
});

describe('logs', () => {
  test('every function logs to its own group, kept one month by default', () => {
    const { switcher, template } = switcherOnly();
    const groups = template.findResources('AWS::Logs::LogGroup');
    assert.equal(Object.keys(groups).length, 5, 'five functions (each app has its state machine\'s)');
    for (const [id, g] of Object.entries(groups)) assert.equal(g.Properties.RetentionInDays, 30, id);
    const used = KEYS.map((key) => {
      const config = template.toJSON().Resources[logicalId(switcher.functions[key])].Properties.LoggingConfig;
      return config.LogGroup.Ref;
    });
    assert.equal(new Set(used).size, 5, 'one group per function');
    for (const id of used) assert.ok(groups[id], `${id} is a log group of this stack`);
  });

  test('logRetention applies to every group', () => {
    const { template } = switcherOnly({ logRetention: logs.RetentionDays.THREE_MONTHS });
    for (const g of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      assert.equal(g.Properties.RetentionInDays, 90);
    }
  });
});

describe('topicKey', () => {
  test('encrypts the emergency topic and the alert topic the switcher creates', () => {
    const stack = new Stack(offlineApp(), 'Encrypted');
    const key = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
    const onCall = new iam.Role(stack, 'OnCall', { assumedBy: new iam.AccountRootPrincipal() });
    const switcher = new BlueGreenSwitcher(stack, 'Switcher', { emergencyPublishers: [onCall], topicKey: key });
    const template = Template.fromStack(stack);
    const topics = template.toJSON().Resources;
    for (const topic of [switcher.emergencyTopic, switcher.alertTopic]) {
      assert.deepEqual(topics[logicalId(topic)].Properties.KmsMasterKeyId, { 'Fn::GetAtt': [logicalId(key), 'Arn'] });
    }
    // Publishers need the key: on-call for the emergency topic, rollback for
    // its on-failure reports to the alert topic (CDK's grant: GenerateDataKey*).
    const keyArn = `<${logicalId(key)}.Arn>`;
    for (const [role, generate] of [
      [onCall, 'kms:GenerateDataKey'],
      [switcher.role('rollback'), 'kms:GenerateDataKey*'],
    ] as const) {
      const s = statementsOf(template, logicalId(role));
      assert.deepEqual(resourcesFor(s, generate), [keyArn], role.node.path);
      assert.deepEqual(resourcesFor(s, 'kms:Decrypt'), [keyArn], role.node.path);
    }
  });

  test('encrypts both topics with a rotated key of its own by default', () => {
    const { template, switcher } = switcherOnly();
    const keys = Object.entries(template.findResources('AWS::KMS::Key'));
    assert.equal(keys.length, 1);
    const [keyId, key] = keys[0];
    assert.equal(key.Properties.EnableKeyRotation, true);
    assert.equal(logicalId(switcher.topicKey!), keyId);
    const topics = Object.values(template.findResources('AWS::SNS::Topic'));
    assert.equal(topics.length, 2);
    for (const t of topics) {
      assert.deepEqual(t.Properties?.KmsMasterKeyId, { 'Fn::GetAtt': [keyId, 'Arn'] });
    }
  });

  test('leaves the topics unencrypted only when asked, and a given alert topic alone', () => {
    const { template, switcher } = switcherOnly({ unencryptedTopics: true });
    assert.equal(switcher.topicKey, undefined);
    assert.deepEqual(template.findResources('AWS::KMS::Key'), {});
    for (const t of Object.values(template.findResources('AWS::SNS::Topic'))) {
      assert.equal(t.Properties?.KmsMasterKeyId, undefined);
    }
    assert.throws(
      () => switcherOnly({ unencryptedTopics: true, topicKey: new kms.Key(new Stack(offlineApp(), 'K'), 'K') }),
      /not both/,
    );
    const stack = new Stack(offlineApp(), 'GivenTopic');
    const key = new kms.Key(stack, 'TopicKey');
    const alertTopic = new sns.Topic(stack, 'Ops');
    new BlueGreenSwitcher(stack, 'Switcher', {
      emergencyPublishers: [new iam.ArnPrincipal('arn:aws:iam::123456789012:role/on-call')],
      alertTopic,
      topicKey: key,
    });
    const given = Template.fromStack(stack).toJSON().Resources[logicalId(alertTopic)];
    assert.equal(given.Properties?.KmsMasterKeyId, undefined);
  });
});

describe('refused props', () => {
  test('an imported service without taskRoles', () => {
    assert.throws(() => importedApp({ taskRoles: undefined }), /taskRoles: .* is an imported service/);
  });

  test('two apps of one name on one switcher', () => {
    const { stack, switcher } = importedApp();
    assert.throws(() => new BlueGreenApp(stack, 'CartAgain', importedProps(stack, switcher)), /app `cart` is already served/);
  });

  test('an app name that is a token, or not an app name', () => {
    const { stack, switcher } = importedApp();
    const token = new CfnParameter(stack, 'AppName').valueAsString;
    assert.throws(() => new BlueGreenApp(stack, 'Token', { ...importedProps(stack, switcher), appName: token }), /appName: a plain string/);
    assert.throws(() => new BlueGreenApp(stack, 'Slash', { ...importedProps(stack, switcher), appName: 'a/b' }), /`a\/b` is not an app name/);
    assert.throws(
      () => new BlueGreenApp(stack, 'Long', { ...importedProps(stack, switcher), appName: 'a'.repeat(65) }),
      /is not an app name/,
    );
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

describe('the container a release replaces', () => {
  /** An app whose services share a task definition with these containers. */
  function appWith(containers: string[], container?: string) {
    const stack = new Stack(offlineApp(), 'Containers');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    const td = new ecs.FargateTaskDefinition(stack, 'Td');
    for (const name of containers) {
      td.addContainer(name, { containerName: name, image: ecs.ContainerImage.fromRegistry('nginx') });
    }
    const service = (color: string) =>
      new ecs.FargateService(stack, color, { cluster, taskDefinition: td, serviceName: `web-${color}` });
    const tg = (id: string, arn: string) =>
      elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, id, { targetGroupArn: arn });
    const switcher = new BlueGreenSwitcher(stack, 'Switcher', {
      emergencyPublishers: [iam.Role.fromRoleArn(stack, 'OnCall', 'arn:aws:iam::123456789012:role/on-call')],
    });
    new BlueGreenApp(stack, 'Web', {
      switcher,
      appName: 'web',
      cluster,
      blue: { service: service('blue'), targetGroup: tg('BlueTg', ARN.blueTg) },
      green: { service: service('green'), targetGroup: tg('GreenTg', ARN.greenTg) },
      production: {
        listener: elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
          listenerArn: ARN.listener,
          securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1'),
        }),
      },
      container,
    });
    return () => Template.fromStack(stack);
  }

  test('is optional with one container', () => {
    appWith(['app'])();
  });

  test('must be named among several, at synth', () => {
    assert.throws(appWith(['app', 'envoy']), /container: the task definition of .* has 2 containers \(app, envoy\)/);
    appWith(['app', 'envoy'], 'app')();
  });

  test('must be one the task definition has', () => {
    assert.throws(appWith(['app', 'envoy'], 'web'), /has no container `web` \(it has: app, envoy\)/);
  });
});

describe('a warm window and the target groups\' deregistration delay', () => {
  /** An app on target groups this CDK app defines, draining for `delay`. */
  function appDraining(warmWindow: Duration | undefined, delay: Duration | undefined) {
    const stack = new Stack(offlineApp(), 'Drain');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    const td = new ecs.FargateTaskDefinition(stack, 'Td');
    td.addContainer('app', { image: ecs.ContainerImage.fromRegistry('nginx') });
    const service = (color: string) =>
      new ecs.FargateService(stack, color, { cluster, taskDefinition: td, serviceName: `web-${color}` });
    const tg = (id: string) =>
      new elbv2.ApplicationTargetGroup(stack, id, {
        vpc,
        port: 8080,
        targetType: elbv2.TargetType.IP,
        deregistrationDelay: delay,
      });
    const switcher = new BlueGreenSwitcher(stack, 'Switcher', {
      emergencyPublishers: [iam.Role.fromRoleArn(stack, 'OnCall', 'arn:aws:iam::123456789012:role/on-call')],
    });
    new BlueGreenApp(stack, 'Web', {
      switcher,
      appName: 'web',
      cluster,
      blue: { service: service('blue'), targetGroup: tg('BlueTg') },
      green: { service: service('green'), targetGroup: tg('GreenTg') },
      production: {
        listener: elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
          listenerArn: ARN.listener,
          securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1'),
        }),
      },
      warmWindow,
    });
    return () => Template.fromStack(stack);
  }

  test('a warm window shorter than the delay is refused at synth, naming both', () => {
    assert.throws(
      appDraining(Duration.minutes(1), Duration.minutes(2)),
      /warmWindow \(60 s\) is shorter than the blue target group's deregistration delay \(120 s\)/,
    );
    // Unset, a target group drains for AWS's 300 s.
    assert.throws(appDraining(Duration.minutes(1), undefined), /deregistration delay \(300 s\)/);
  });

  test('a warm window at least as long passes (the default of 24 h too)', () => {
    appDraining(Duration.minutes(5), Duration.seconds(30))();
    appDraining(undefined, undefined)();
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

  test('writes the new monitor fields, the container and the deploy timeout in the documented units', () => {
    const doc = appConfigDocument({
      ...base,
      container: 'web',
      deployTimeout: Duration.minutes(20),
      monitor: {
        probeRequests: 3,
        probeTimeout: Duration.millis(1500),
        versionTimeout: Duration.minutes(3),
        compareWithPrevious: false,
        maxP99Regression: 2,
      },
    });
    assert.equal(doc.container, 'web');
    assert.equal(doc.deploy_timeout_seconds, 1200);
    // `false` is written: only unset props are left out.
    assert.deepEqual(doc.monitor, {
      probe_requests: 3,
      probe_timeout_ms: 1500,
      version_timeout_seconds: 180,
      compare_with_previous: false,
      max_p99_regression: 2,
    });
  });

  test('with every prop set, writes exactly the fields of the Rust schema', () => {
    const doc = appConfigDocument({
      ...base,
      blue: { ...base.blue, directUrl: 'http://cart-blue.internal' },
      green: { ...base.green, directUrl: 'http://cart-green.internal' },
      production: { listenerArn: ARN.listener, ruleArn: ARN.rule, stickiness: Duration.minutes(1) },
      test: {
        listenerArn: ARN.listener,
        ruleArn: ARN.testRule,
        url: 'https://lb.internal',
        versionPath: '/version',
        routeTimeout: Duration.seconds(90),
      },
      container: 'web',
      deployTimeout: Duration.minutes(15),
      strategy: { type: 'weighted', steps: [50, 100], bake: Duration.minutes(1) },
      monitor: {
        max5xxRate: 0.02,
        maxP99: Duration.millis(800),
        maxP50: Duration.millis(200),
        maxP95: Duration.millis(500),
        checks: [
          {
            name: 'orders per minute',
            namespace: 'Shop',
            metric: 'Orders',
            dimensions: { Color: '{{color}}', Region: 'eu' },
            statistic: 'Sum',
            floor: 1,
            ceiling: 10_000,
            maxDrop: 0.2,
            maxRise: 3,
          },
        ],
        minRequests: 10,
        alarmNames: ['cart-5xx'],
        probeUrl: 'https://cart.example.com/version',
        expectedVersionMarker: 'v{{version}}',
        probeRequests: 3,
        probeInterval: Duration.seconds(10),
        slice: Duration.minutes(10),
        probeTimeout: Duration.seconds(1),
        versionTimeout: Duration.minutes(1),
        compareWithPrevious: true,
        maxP99Regression: 1.2,
        versionHeader: 'X-Build',
        versionJsonPath: 'build.version',
        metricsDelay: Duration.minutes(2),
        maxFailedReads: 5,
      },
      warmWindow: Duration.hours(1),
      idleCapacityAfterWindow: 1,
      failedColorGrace: Duration.minutes(30),
      warmCapacityPercent: 50,
      autoscaling: true,
      alertTopicArn: 'arn:aws:sns:us-east-1:123456789012:alerts',
      minHealthyFraction: 0.5,
      roles: {
        deployIdle: 'arn:aws:iam::123456789012:role/bluegreen/x/cart-deploy-idle',
        smokeTest: 'arn:aws:iam::123456789012:role/bluegreen/x/cart-smoke-test',
        switch: 'arn:aws:iam::123456789012:role/bluegreen/x/cart-switch',
        monitor: 'arn:aws:iam::123456789012:role/bluegreen/x/cart-monitor',
        rollback: 'arn:aws:iam::123456789012:role/bluegreen/x/cart-rollback',
      },
      gates: {
        approval: { beforeWeights: [100], timeout: Duration.hours(8), onTimeout: 'promote' },
        window: { timeZone: 'Europe/Berlin', days: ['mon', 'tue'], from: '22:00', to: '06:00' },
      },
      hooks: [{ at: 'after-step', url: 'https://hooks.example.com/x', timeout: Duration.seconds(5), onFailure: 'continue' }],
      notifications: { slack: true, webhook: true, events: ['promoted', 'rolled-back'] },
      migrations: {
        expand: { command: ['migrate', 'expand'], sqlFiles: ['db/expand/0042.sql'] },
        contract: { command: ['migrate', 'contract'], when: 'manual' },
        timeout: Duration.minutes(30),
      },
    });
    assert.deepEqual(keyPaths(doc).sort(), schemaConfigFields().sort());
    // A list is one field to keyPaths: its elements hold exactly Rust's MetricCheck.
    const [check] = (doc.monitor as any).checks;
    assert.deepEqual(Object.keys(check).sort(), schemaCheckFields().sort());
    assert.equal(check.max_drop, 0.2);
    assert.deepEqual(check.dimensions, { Color: '{{color}}', Region: 'eu' });
  });

  test('writes a check with only what was set, and percentile limits in whole milliseconds', () => {
    const doc = appConfigDocument({
      ...base,
      monitor: {
        maxP50: Duration.millis(150),
        maxP95: Duration.seconds(1),
        checks: [{ name: 'sign-ups', namespace: 'Shop', metric: 'SignUps', statistic: 'p99.9', ceiling: 5 }],
      },
    });
    assert.deepEqual(doc.monitor, {
      max_p50_ms: 150,
      max_p95_ms: 1000,
      checks: [{ name: 'sign-ups', namespace: 'Shop', metric: 'SignUps', statistic: 'p99.9', ceiling: 5 }],
    });
  });

  test('leaves the tokens in a check for the Lambdas to check', () => {
    const lb = Token.asString({ 'Fn::GetAtt': ['Alb', 'LoadBalancerFullName'] });
    const doc = appConfigDocument({
      ...base,
      monitor: {
        checks: [{ name: 'orders', namespace: 'Shop', metric: Token.asString({ Ref: 'Metric' }), dimensions: { LoadBalancer: lb }, floor: 1 }],
      },
    });
    assert.equal((doc.monitor as any).checks[0].dimensions.LoadBalancer, lb);
  });

  test('docs/config.md has a row for every field of a check, and only those', () => {
    const doc = readFileSync(path.join(__dirname, '..', '..', 'docs', 'config.md'), 'utf8');
    const rows = doc.split('\n# State')[0].split('\n').filter((l) => l.startsWith('| `monitor.checks[].'));
    const named = rows.flatMap((l) => [...l.split('|')[1].matchAll(/`monitor\.checks\[\]\.([a-z0-9_]+)`/g)].map((m) => m[1]));
    assert.deepEqual(named.sort(), schemaCheckFields().sort());
  });

  /** A valid check, changed by `change`. */
  const check = (change: Partial<MetricCheck> = {}): MetricCheck => ({
    name: 'orders',
    namespace: 'Shop',
    metric: 'Orders',
    dimensions: { Color: '{{color}}' },
    maxDrop: 0.2,
    ...change,
  });

  const refused: [string, Partial<AppConfigValues>, RegExp][] = [
    ['a path-unsafe app name', { app: 'a/b' }, /app: `a\/b` must match pattern/],
    ['decreasing steps', { strategy: { type: 'weighted', steps: [10, 5, 100] } }, /strategy.steps\[1\]: steps must increase/],
    ['steps not ending at 100', { strategy: { type: 'weighted', steps: [10, 50] } }, /the last step must be 100/],
    ['a weight over 100', { strategy: { type: 'weighted', steps: [10, 150] } }, /strategy.steps\[1\]: 150 must be <= 100/],
    ['a bake longer than a day', { strategy: { type: 'all-at-once', bake: Duration.hours(25) } }, /strategy.bake_seconds: 90000 must be <= 86400/],
    ['a 5xx rate over 1', { monitor: { max5xxRate: 5 } }, /monitor.max_5xx_rate/],
    ['stickiness over 7 days', { production: { listenerArn: ARN.listener, stickiness: Duration.days(8) } }, /stickiness_seconds/],
    ['a test URL that is not http(s)', { test: { listenerArn: ARN.listener, ruleArn: ARN.rule, url: 'lb:8080' } }, /test.url/],
    ['a negative idle capacity', { idleCapacityAfterWindow: -1 }, /idle_capacity_after_window: -1/],
    ['a healthy fraction of 0', { minHealthyFraction: 0 }, /min_healthy_fraction: 0/],
    ['a healthy fraction over 1', { minHealthyFraction: 1.5 }, /min_healthy_fraction: 1.5/],
    ['an idle capacity beyond u32', { idleCapacityAfterWindow: 2 ** 32 }, /idle_capacity_after_window: 4294967296/],
    ['no probe requests', { monitor: { probeRequests: 0 } }, /monitor.probe_requests: 0 must be >= 1/],
    ['a probe timeout over 10 s', { monitor: { probeTimeout: Duration.seconds(60) } }, /monitor.probe_timeout_ms: 60000/],
    ['no failed reads tolerated', { monitor: { maxFailedReads: 0 } }, /monitor.max_failed_reads: 0/],
    ['a probe interval over a minute', { monitor: { probeInterval: Duration.minutes(2) } }, /monitor.probe_interval_seconds: 120/],
    ['a slice the function cannot hold', { monitor: { slice: Duration.minutes(15) } }, /monitor.slice_seconds: 900/],
    ['a fractional probe count', { monitor: { probeRequests: 2.5 } }, /monitor.probe_requests: 2.5/],
    ['a zero probe timeout', { monitor: { probeTimeout: Duration.millis(0) } }, /monitor.probe_timeout_ms/],
    ['a p99 regression of 0', { monitor: { maxP99Regression: 0 } }, /monitor.max_p99_regression: 0/],
    ['a p99 regression JSON cannot hold', { monitor: { maxP99Regression: Infinity } }, /monitor.max_p99_regression/],
    ['a probe URL that is not http(s)', { monitor: { probeUrl: 'cart.example.com' } }, /monitor.probe_url/],
    [
      'a p95 limit above p99',
      { monitor: { maxP95: Duration.millis(900), maxP99: Duration.millis(800) } },
      /monitor\.max_p95_ms: 900 is above max_p99_ms 800/,
    ],
    [
      'a p95 limit above the default p99',
      { monitor: { maxP95: Duration.seconds(2) } },
      /monitor\.max_p95_ms: 2000 is above max_p99_ms 1000 \(the default\)/,
    ],
    [
      'a p50 limit above p95',
      { monitor: { maxP50: Duration.millis(300), maxP95: Duration.millis(200) } },
      /monitor\.max_p50_ms: 300 is above max_p95_ms 200/,
    ],
    ['a p50 limit of 0', { monitor: { maxP50: Duration.millis(0) } }, /monitor\.max_p50_ms: 0 must be >= 1/],
    [
      'a check without any limit',
      { monitor: { checks: [check(), { name: 'bare', namespace: 'Shop', metric: 'Orders' }] } },
      /monitor\.checks\[1\]\.floor: a check needs at least one of floor, ceiling, max_drop, max_rise/,
    ],
    [
      'a check with max_drop 1.5',
      { monitor: { checks: [check(), check({ name: 'b', maxDrop: 1.5 })] } },
      /monitor\.checks\[1\]\.max_drop: 1\.5 must be <= 1/,
    ],
    ['a check with max_rise 0', { monitor: { checks: [check({ maxRise: 0 })] } }, /monitor\.checks\[0\]\.max_rise: 0/],
    [
      'a check whose floor is above its ceiling',
      { monitor: { checks: [check({ floor: 5, ceiling: 1 })] } },
      /monitor\.checks\[0\]\.floor: 5 is above the ceiling 1/,
    ],
    [
      'two checks with one name',
      { monitor: { checks: [check(), check({ maxRise: 1 })] } },
      /monitor\.checks\[1\]\.name: `orders` names two checks/,
    ],
    [
      'a check statistic `Median`',
      { monitor: { checks: [check({ statistic: 'Median' })] } },
      /monitor\.checks\[0\]\.statistic: `Median` must match pattern/,
    ],
    ['a check percentile of 100', { monitor: { checks: [check({ statistic: 'p100' })] } }, /monitor\.checks\[0\]\.statistic/],
    [
      'a dimension value with {{app}}',
      { monitor: { checks: [check({ dimensions: { Color: '{{color}}', App: '{{app}}' } })] } },
      /monitor\.checks\[0\]\.dimensions: `App` is `\{\{app\}\}`: only \{\{color\}\} may be filled in/,
    ],
    [
      'an empty dimension value',
      { monitor: { checks: [check({ dimensions: { Color: ' ' } })] } },
      /monitor\.checks\[0\]\.dimensions\.Color: ` ` must match pattern/,
    ],
    ['a check name over 100 characters', { monitor: { checks: [check({ name: 'x'.repeat(101) })] } }, /monitor\.checks\[0\]\.name/],
    ['a check without a namespace', { monitor: { checks: [check({ namespace: '' })] } }, /monitor\.checks\[0\]\.namespace/],
    [
      'more than 10 checks',
      { monitor: { checks: Array.from({ length: 11 }, (_, i) => check({ name: `c${i}` })) } },
      /monitor\.checks: a list of 11 must NOT have more than 10 items/,
    ],
    [
      'more than 30 dimensions',
      { monitor: { checks: [check({ dimensions: Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`D${i}`, 'v'])) })] } },
      /monitor\.checks\[0\]\.dimensions: 31 entries must NOT have more than 30 properties/,
    ],
    ['an empty container name', { container: '' }, /container: `` must match pattern/],
    ['a deploy timeout in fractions of a second', { deployTimeout: Duration.millis(1500) }, /whole number/],
    [
      'a route timeout that leaves the smoke tests no time',
      { test: { listenerArn: ARN.listener, url: 'https://lb.internal', routeTimeout: Duration.minutes(5) } },
      /test\.route_timeout_seconds: 300 must be <= 240/,
    ],
  ];
  for (const [what, change, message] of refused) {
    test(`refuses ${what}, naming the field`, () => {
      assert.throws(() => appConfigDocument({ ...base, ...change }), message);
    });
  }
});

describe('vpcPlacement', () => {
  /** A VPC with an internal ALB whose test listener admits the VPC only. */
  function privateSetup(functions?: Array<'smokeTest' | 'monitor'>) {
    const stack = new Stack(offlineApp(), 'Private');
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
    const alb = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: false });
    const tg = new elbv2.ApplicationTargetGroup(stack, 'Tg', { vpc, port: 8080, targetType: elbv2.TargetType.IP });
    const testListener = alb.addListener('Test', { port: 8080, open: false, defaultTargetGroups: [tg] });
    const switcher = new BlueGreenSwitcher(stack, 'Switcher', {
      emergencyPublishers: [new iam.ArnPrincipal('arn:aws:iam::123456789012:role/on-call')],
      vpcPlacement: { vpc, functions },
    });
    for (const sg of switcher.functionsSecurityGroups) testListener.connections.allowDefaultPortFrom(sg);
    return { stack, vpc, alb, switcher, template: Template.fromStack(stack) };
  }

  test('the smoke tests and the monitor run in the private subnets; the others outside', () => {
    const { switcher, template, vpc, alb } = privateSetup();
    assert.equal(alb.node.defaultChild && (alb.node.defaultChild as elbv2.CfnLoadBalancer).scheme, 'internal');
    const privateSubnets = vpc.privateSubnets.map((s) => ({ Ref: logicalId(s.node.defaultChild as ec2.CfnSubnet) }));
    const sg = logicalId(switcher.functionsSecurityGroups[0]);
    for (const key of KEYS) {
      const props = template.toJSON().Resources[logicalId(switcher.functions[key])].Properties;
      if (key === 'smokeTest' || key === 'monitor') {
        assert.deepEqual(props.VpcConfig.SubnetIds, privateSubnets, key);
        assert.deepEqual(props.VpcConfig.SecurityGroupIds, [{ 'Fn::GetAtt': [sg, 'GroupId'] }], key);
      } else {
        assert.equal(props.VpcConfig, undefined, key);
      }
    }
    // The test listener admits the functions' security group, nothing else.
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties);
    assert.ok(
      ingress.some((i) => i.FromPort === 8080 && i.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === sg),
      JSON.stringify(ingress),
    );
    const albGroup = template.toJSON().Resources[logicalId(alb.connections.securityGroups[0])].Properties;
    assert.equal(albGroup.SecurityGroupIngress, undefined, 'no ingress from anywhere');
  });

  test('only the functions named', () => {
    const { switcher, template } = privateSetup(['smokeTest']);
    const vpcConfig = (key: FunctionKey) =>
      template.toJSON().Resources[logicalId(switcher.functions[key])].Properties.VpcConfig;
    assert.ok(vpcConfig('smokeTest'));
    assert.equal(vpcConfig('monitor'), undefined);
  });
});

describe('the contract migration waits out any rollback in flight', () => {
  test('it settles longer than the rollback function may run', () => {
    const { fn } = switcherOnly();
    const rollbackTimeout = fn('rollback').Timeout as number;
    assert.ok(rollbackTimeout > 0);
    assert.ok(
      CONTRACT_SETTLE_SECONDS > rollbackTimeout,
      `CONTRACT_SETTLE_SECONDS (${CONTRACT_SETTLE_SECONDS}) must exceed the rollback function's timeout (${rollbackTimeout} s)`,
    );
  });
});
