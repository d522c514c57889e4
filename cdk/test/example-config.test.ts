// The contract fixture example-config.json: what the construct synthesizes for
// the example app, with placeholders the Lambdas' validation accepts. The Rust
// tests parse the same file with the Lambdas' own parser.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { exampleAppConfig, resolveAppConfig } from '../lib/example-config';
import { keyPaths, rustConfigFields } from './helpers';

const config = exampleAppConfig() as any;

test('example-config.json is what the construct synthesizes', () => {
  const checkedIn = readFileSync(path.join(__dirname, '..', 'example-config.json'), 'utf8');
  assert.ok(
    checkedIn === JSON.stringify(config, null, 2) + '\n',
    'cdk/example-config.json is out of date with the construct: run `npm run export-config` in cdk/ and commit the result',
  );
});

test('holds only fields of the Rust schema, and a representative set of them', () => {
  const rust = new Set(rustConfigFields());
  const used = keyPaths(config);
  for (const key of used) assert.ok(rust.has(key), `${key} is not a field of AppConfig in functions/core/src/config.rs`);
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

// The checks of AppConfig::validate (functions/core/src/config.rs) that
// placeholders could break.
test('its placeholders pass the Lambdas’ validation', () => {
  const arn = (field: string, value: string, service: string, marker: string) => {
    const parts = value.split(':');
    assert.ok(
      parts.length >= 6 && parts[0] === 'arn' && parts[2] === service && parts.slice(5).join(':') !== '' && value.includes(marker),
      `${field}: \`${value}\` is not an ${service} ARN with ${marker}`,
    );
  };
  const url = (field: string, value: string) => assert.match(value, /^https?:\/\//, field);

  assert.equal(config.app, 'checkout');
  assert.ok(config.cluster.trim() !== '');
  for (const color of ['blue', 'green']) {
    assert.ok(config[color].service.trim() !== '', `${color}.service`);
    arn(`${color}.target_group_arn`, config[color].target_group_arn, 'elasticloadbalancing', ':targetgroup/');
    if (config[color].direct_url !== undefined) url(`${color}.direct_url`, config[color].direct_url);
  }
  assert.notEqual(config.blue.target_group_arn, config.green.target_group_arn);
  assert.notEqual(config.blue.service, config.green.service);
  arn('production.listener_arn', config.production.listener_arn, 'elasticloadbalancing', ':listener/');
  arn('test.listener_arn', config.test.listener_arn, 'elasticloadbalancing', ':listener/');
  assert.notEqual(config.test.listener_arn, config.production.listener_arn, 'the test route needs its own listener');
  url('test.url', config.test.url);
  url('monitor.probe_url', config.monitor.probe_url);
  arn('alert_topic_arn', config.alert_topic_arn, 'sns', ':');
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
