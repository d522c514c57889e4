// A hundred apps on one switcher: each app in its own stack (as services
// usually are), the switcher in a shared one. CloudFormation's and IAM's
// limits hold, the switcher does not grow with the apps, and each app's roles
// and state machine name only that app's resources. Nor does the rollback
// function's resource policy (Lambda caps it at 20 KB): one statement admits
// every app's end rule, named under the switcher's prefix.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { BlueGreenApp, BlueGreenSwitcher, FunctionKey } from '../lib';
import { offlineApp } from './helpers';

const ENV = { account: '123456789012', region: 'us-east-1' };
const KEYS: FunctionKey[] = ['deployIdle', 'smokeTest', 'switch', 'monitor', 'rollback'];

// CloudFormation and IAM quotas (not adjustable unless noted).
const MAX_RESOURCES_PER_STACK = 500;
const MAX_TEMPLATE_BYTES = 1_000_000; // via S3, as `cdk deploy` uploads it
const MAX_ROLE_INLINE_POLICY_CHARS = 10_240; // all inline policies of a role, whitespace excluded
const MAX_TRUST_POLICY_CHARS = 2_048; // default; adjustable to 4,096
const MAX_FUNCTION_POLICY_BYTES = 20_480; // Lambda: a function's resource-based policy; not adjustable

/** Account-wide names an app of index `i` owns. */
function arns(i: number) {
  const app = `app${i}`;
  const lb = `arn:aws:elasticloadbalancing:us-east-1:123456789012`;
  return {
    app,
    cluster: 'arn:aws:ecs:us-east-1:123456789012:cluster/prod',
    blue: `arn:aws:ecs:us-east-1:123456789012:service/prod/${app}-blue`,
    green: `arn:aws:ecs:us-east-1:123456789012:service/prod/${app}-green`,
    blueTg: `${lb}:targetgroup/${app}-blue/${i}`,
    greenTg: `${lb}:targetgroup/${app}-green/${i}`,
    listener: `${lb}:listener/app/shared/1/2`,
    rule: `${lb}:listener-rule/app/shared/1/2/${app}`,
    testRule: `${lb}:listener-rule/app/shared/1/2/${app}-test`,
    taskRole: `arn:aws:iam::123456789012:role/${app}-task`,
  };
}

function appStack(app: App, switcher: BlueGreenSwitcher, i: number): BlueGreenApp {
  const a = arns(i);
  const stack = new Stack(app, `Service${i}`, { env: ENV });
  const listener = elbv2.ApplicationListener.fromApplicationListenerAttributes(stack, 'Listener', {
    listenerArn: a.listener,
    securityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1'),
  });
  const tg = (id: string, arn: string) => elbv2.ApplicationTargetGroup.fromTargetGroupAttributes(stack, id, { targetGroupArn: arn });
  return new BlueGreenApp(stack, 'BlueGreen', {
    switcher,
    appName: a.app,
    cluster: ecs.Cluster.fromClusterArn(stack, 'Cluster', a.cluster),
    blue: { service: ecs.FargateService.fromServiceArnWithCluster(stack, 'Blue', a.blue), targetGroup: tg('BlueTg', a.blueTg) },
    green: { service: ecs.FargateService.fromServiceArnWithCluster(stack, 'Green', a.green), targetGroup: tg('GreenTg', a.greenTg) },
    production: { listener, rule: { listenerRuleArn: a.rule } },
    test: { listener, rule: { listenerRuleArn: a.testRule }, url: `https://${a.app}-test.internal` },
    taskRoles: [iam.Role.fromRoleArn(stack, 'TaskRole', a.taskRole)],
  });
}

/** A switcher stack and `n` app stacks, synthesized. */
function organization(n: number) {
  const app = offlineApp();
  const shared = new Stack(app, 'Switcher', { env: ENV });
  const onCall = iam.Role.fromRoleArn(shared, 'OnCall', 'arn:aws:iam::123456789012:role/on-call');
  const switcher = new BlueGreenSwitcher(shared, 'Switcher', { emergencyPublishers: [onCall] });
  const apps = Array.from({ length: n }, (_, i) => appStack(app, switcher, i));
  const assembly = app.synth();
  const template = (stack: Stack) => assembly.getStackArtifact(stack.artifactId).template;
  return { switcher, shared: template(shared), apps: apps.map((a) => ({ app: a, template: template(Stack.of(a)) })) };
}

/**
 * A policy document as IAM counts it (JSON without whitespace), each token
 * taken at 128 characters: longer than any ARN it stands for here, so the
 * sizes are upper bounds.
 */
function policyChars(document: unknown): number {
  const resolve = (v: any): any => {
    if (Array.isArray(v)) return v.map(resolve);
    if (v && typeof v === 'object') {
      if (v['Fn::Join']) return v['Fn::Join'][1].map(resolve).join(v['Fn::Join'][0]);
      if (v.Ref || v['Fn::GetAtt'] || v['Fn::ImportValue']) return 'x'.repeat(128);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    }
    return v;
  };
  return JSON.stringify(resolve(document)).length;
}

type Template = { Resources: Record<string, { Type: string; Properties?: any }> };

/**
 * The statement an `AWS::Lambda::Permission` adds to its function's policy,
 * as Lambda keeps it (tokens at 128 characters, as above; the statement ID
 * CloudFormation generates at 100, the most Lambda takes): an upper bound.
 */
function permissionStatement(p: { Principal: string; Action: string; FunctionName: unknown; SourceArn: unknown; SourceAccount?: unknown }) {
  return {
    Sid: 'x'.repeat(100),
    Effect: 'Allow',
    Principal: { Service: p.Principal },
    Action: p.Action,
    Resource: p.FunctionName,
    Condition: {
      ...(p.SourceAccount ? { StringEquals: { 'AWS:SourceAccount': p.SourceAccount } } : {}),
      ArnLike: { 'AWS:SourceArn': p.SourceArn },
    },
  };
}

function ofType(t: Template, type: string) {
  return Object.entries(t.Resources).filter(([, r]) => r.Type === type);
}

/** The policy characters attached to each role of the template, by logical ID. */
function rolePolicyChars(t: Template): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const [, p] of ofType(t, 'AWS::IAM::Policy')) {
    for (const role of p.Properties.Roles) {
      const id = role.Ref ?? JSON.stringify(role);
      sizes.set(id, (sizes.get(id) ?? 0) + policyChars(p.Properties.PolicyDocument));
    }
  }
  for (const [id, r] of ofType(t, 'AWS::IAM::Role')) {
    for (const p of r.Properties.Policies ?? []) sizes.set(id, (sizes.get(id) ?? 0) + policyChars(p.PolicyDocument));
  }
  return sizes;
}

describe('a hundred apps on one switcher', () => {
  const started = Date.now();
  const hundred = organization(100);
  const synthSeconds = (Date.now() - started) / 1000;
  const one = organization(1);

  test('the switcher\'s template is the same for 1 app and for 100', () => {
    assert.deepEqual(hundred.shared, one.shared);
  });

  test('every stack within CloudFormation\'s limits; every role within IAM\'s', () => {
    const bytes = (t: unknown) => Buffer.byteLength(JSON.stringify(t));
    let largestPolicy = 0;
    let largestTrust = 0;
    for (const t of [hundred.shared, ...hundred.apps.map((a) => a.template)]) {
      assert.ok(Object.keys(t.Resources).length <= MAX_RESOURCES_PER_STACK);
      assert.ok(bytes(t) <= MAX_TEMPLATE_BYTES);
      for (const size of rolePolicyChars(t).values()) {
        assert.ok(size <= MAX_ROLE_INLINE_POLICY_CHARS, `${size} characters of policy on one role`);
        largestPolicy = Math.max(largestPolicy, size);
      }
      for (const [, r] of ofType(t, 'AWS::IAM::Role')) {
        const trust = policyChars(r.Properties.AssumeRolePolicyDocument);
        assert.ok(trust <= MAX_TRUST_POLICY_CHARS, `${trust} characters of trust policy`);
        largestTrust = Math.max(largestTrust, trust);
      }
    }
    const perApp = Object.keys(hundred.apps[0].template.Resources).length;
    const largestApp = Math.max(...hundred.apps.map((a) => bytes(a.template)));
    console.log(
      `100 apps synthesized in ${synthSeconds.toFixed(1)} s: switcher template ${bytes(hundred.shared)} bytes, ` +
        `${Object.keys(hundred.shared.Resources).length} resources; each app stack at most ${largestApp} bytes, ` +
        `${perApp} resources (so at most ${Math.floor(MAX_RESOURCES_PER_STACK / perApp)} apps fit one stack); ` +
        `largest role policy ${largestPolicy} of ${MAX_ROLE_INLINE_POLICY_CHARS} characters, ` +
        `largest trust policy ${largestTrust} of ${MAX_TRUST_POLICY_CHARS}`,
    );
  });

  test('each app\'s stack holds one end rule, named under the switcher\'s prefix, and no permission', () => {
    const fn = hundred.switcher.functions.rollback;
    const rollback = Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnElement);
    const prefix = hundred.switcher.endRulePrefix;
    const names = new Set<string>();
    for (const [i, { app, template }] of hundred.apps.entries()) {
      const rules = ofType(template, 'AWS::Events::Rule');
      assert.equal(rules.length, 1, `app${i}: one rule`);
      const [ruleId, rule] = rules[0];
      assert.equal(ruleId, Stack.of(app).getLogicalId(app.unsuccessfulEndRule.node.defaultChild as CfnElement));
      assert.equal(rule.Properties.Name, `${prefix}app${i}`);
      names.add(rule.Properties.Name);
      const machine = Stack.of(app).getLogicalId(app.stateMachine.node.defaultChild as CfnElement);
      assert.deepEqual(rule.Properties.EventPattern.detail, {
        stateMachineArn: [{ Ref: machine }],
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
      });
      assert.equal(rule.Properties.Targets.length, 1);
      assert.ok(JSON.stringify(rule.Properties.Targets[0].Arn).includes(rollback), `app${i}: to the rollback function`);
      assert.deepEqual(ofType(template, 'AWS::Lambda::Permission'), [], `app${i}: no permission`);
    }
    assert.equal(names.size, 100);
  });

  test('the rollback function\'s resource policy does not grow with the apps', () => {
    // Every AWS::Lambda::Permission on the rollback function, in every stack:
    // the emergency topic's and the one for the end rules, for 1 app as for 100.
    const permissions = (org: ReturnType<typeof organization>) => {
      const fn = org.switcher.functions.rollback;
      const rollback = Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnElement);
      return [org.shared, ...org.apps.map((a) => a.template)].flatMap((t) =>
        ofType(t, 'AWS::Lambda::Permission')
          .filter(([, p]) => JSON.stringify(p.Properties.FunctionName).includes(rollback))
          .map(([, p]) => p.Properties),
      );
    };
    const many = permissions(hundred);
    assert.deepEqual(many, permissions(one));
    assert.deepEqual(many.map((p) => p.Principal).sort(), ['events.amazonaws.com', 'sns.amazonaws.com']);
    const size = policyChars({ Version: '2012-10-17', Id: 'default', Statement: many.map(permissionStatement) });
    assert.ok(size <= MAX_FUNCTION_POLICY_BYTES, `${size} bytes`);
    console.log(
      `rollback function's resource policy, for 1 app as for 100: ${many.length} statements, ` +
        `at most ${size} of ${MAX_FUNCTION_POLICY_BYTES} bytes`,
    );
  });

  test('each app\'s roles and state machine name only that app\'s resources', () => {
    for (const [i, { app, template }] of hundred.apps.entries()) {
      // Its roles' grants, trust, state machine and config: no other app's
      // service, target group, rule, role or parameter appears anywhere.
      const named = new Set([...JSON.stringify(template).matchAll(/app(\d+)/g)].map((m) => Number(m[1])));
      assert.deepEqual([...named], [i], `the stack of app${i} names another app`);
      for (const key of KEYS) {
        const role = Stack.of(app).getLogicalId(app.roles[key].node.defaultChild as CfnElement);
        const granted = ofType(template, 'AWS::IAM::Policy').filter(([, p]) =>
          p.Properties.Roles.some((r: any) => r.Ref === role),
        );
        assert.equal(granted.length, 1, `app${i} ${key}: one policy`);
      }
    }
  });
});
