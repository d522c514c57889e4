// The contract fixture example-config.json: what the construct synthesizes for
// the example app, with placeholders the Lambdas' validation accepts. The Rust
// tests parse the same file with the Lambdas' own parser.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { exampleAppConfig, resolveAppConfig } from '../lib/example-config';
import { checkAgainstSchema } from '../lib/config-schema';
import { keyPaths, schemaConfigFields } from './helpers';

const config = exampleAppConfig() as any;

test('example-config.json is what the construct synthesizes', () => {
  const checkedIn = readFileSync(path.join(__dirname, '..', 'example-config.json'), 'utf8');
  assert.ok(
    checkedIn === JSON.stringify(config, null, 2) + '\n',
    'cdk/example-config.json is out of date with the construct: run `npm run export-config` in cdk/ and commit the result',
  );
});

test('holds only fields of the Rust schema, and a representative set of them', () => {
  const rust = new Set(schemaConfigFields());
  const used = keyPaths(config);
  for (const key of used) assert.ok(rust.has(key), `${key} is not a field of AppConfig in functions/core/src/records/config.rs`);
  for (const key of [
    'test.url',
    'container',
    'deploy_timeout_seconds',
    'production.stickiness_seconds',
    'strategy.steps',
    'monitor.alarm_names',
    'monitor.probe_url',
    'monitor.compare_with_previous',
    'alert_topic_arn',
  ]) {
    assert.ok(used.includes(key), `the example sets no ${key}`);
  }
});

// Placeholders must pass what the Lambdas check: the schema the Rust types
// generate, and the rules across fields of AppConfig::validate.
test('its placeholders pass the Lambdas’ validation', () => {
  checkAgainstSchema(config);
  assert.equal(config.app, 'checkout');
  assert.notEqual(config.blue.target_group_arn, config.green.target_group_arn);
  assert.notEqual(config.blue.service, config.green.service);
  assert.notEqual(config.test.listener_arn, config.production.listener_arn, 'the test route needs its own listener');
});

test('the schema refuses what the Lambdas refuse', () => {
  const broken = structuredClone(config);
  broken.blue.target_group_arn = 'tg-1';
  assert.throws(() => checkAgainstSchema(broken), /blue\.target_group_arn: `tg-1` must match pattern/);
  const unknown = { ...structuredClone(config), colour: 'blue' };
  assert.throws(() => checkAgainstSchema(unknown), /colour: is not a field of the document/);
});

test('a token without a placeholder fails the export', () => {
  const template = {
    Resources: {
      Config: {
        Type: 'AWS::SSM::Parameter',
        Properties: { Value: { 'Fn::Join': ['', ['{"cluster":"', { 'Fn::ImportValue': 'shared-cluster' }, '"}']] } },
      },
    },
  };
  assert.throws(() => resolveAppConfig(template, 'Config', 'cart'), /cannot resolve \{"Fn::ImportValue":"shared-cluster"\}/);
});

test('rules get listener-rule ARNs under their listener', () => {
  const template = {
    Resources: {
      Lb: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Name: 'shop' } },
      Listener: { Type: 'AWS::ElasticLoadBalancingV2::Listener', Properties: { LoadBalancerArn: { Ref: 'Lb' } } },
      Rule: { Type: 'AWS::ElasticLoadBalancingV2::ListenerRule', Properties: { ListenerArn: { Ref: 'Listener' } } },
      Config: {
        Type: 'AWS::SSM::Parameter',
        Properties: {
          Value: { 'Fn::Join': ['', ['{"listener_arn":"', { Ref: 'Listener' }, '","rule_arn":"', { Ref: 'Rule' }, '"}']] },
        },
      },
    },
  };
  const elb = 'arn:aws:elasticloadbalancing:us-east-1:123456789012';
  assert.deepEqual(resolveAppConfig(template, 'Config', 'cart'), {
    listener_arn: `${elb}:listener/app/shop/0000000000000001/0000000000000001`,
    rule_arn: `${elb}:listener-rule/app/shop/0000000000000001/0000000000000001/0000000000000001`,
  });
});

test('the repository’s example config (examples/app-config.json) passes the schema the CDK checks against', () => {
  const example = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'examples', 'app-config.json'), 'utf8'));
  assert.equal(example.$schema, '../schemas/app-config.schema.json');
  checkAgainstSchema(example);
});
