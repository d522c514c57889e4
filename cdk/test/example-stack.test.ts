// Template assertions on the example stack: IAM scope, the emergency topic,
// the state machine resource and the app's config parameter.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { BINARY_METADATA_KEY, BlueGreenApp, BlueGreenSwitcher, FunctionKey } from '../lib';
import { ExampleStack } from '../lib/example-stack';
import {
  arnLike,
  executionStatusChange,
  inUsEast1,
  keyPaths,
  list,
  logicalId,
  matchesPattern,
  offlineApp,
  render,
  resourcesFor,
  schemaConfigFields,
  statementsOf,
} from './helpers';

const stack = new ExampleStack(offlineApp(), 'BlueGreenExample');
const template = Template.fromStack(stack);
const switcher = stack.node.findChild('Switcher') as BlueGreenSwitcher;
const app = stack.node.findChild('App') as BlueGreenApp;
const find = (p: string) => p.split('/').reduce<IConstruct>((c, part) => c.node.findChild(part), stack);
const id = (p: string) => logicalId(find(p));
const ref = (p: string) => `<${id(p)}>`;
/** What a function may do for the app: the statements of the role it assumes for it. */
const statements = (key: FunctionKey) => statementsOf(template, logicalId(app.roles[key]));
/** What a function may do on its own: its execution role's statements. */
const ownStatements = (key: FunctionKey) => statementsOf(template, logicalId(switcher.role(key)));
const KEYS: FunctionKey[] = ['deployIdle', 'smokeTest', 'switch', 'monitor', 'rollback'];
const doc = readFileSync(path.join(__dirname, '..', '..', 'docs', 'config.md'), 'utf8');
const PARAMETERS = '<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/bluegreen/checkout/';
/** The rules the rollback function's one EventBridge permission admits. */
const END_RULES = `arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/${switcher.endRulePrefix}*`;

describe('IAM', () => {
  test('switch may modify only the production listener', () => {
    const s = statements('switch');
    assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyListener'), [ref('Alb/Production')]);
    assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyRule'), []);
  });

  test('deploy-idle may modify only the test listener', () => {
    const s = statements('deployIdle');
    assert.deepEqual(resourcesFor(s, 'elasticloadbalancing:ModifyListener'), [ref('Alb/Test')]);
  });

  test('ssm actions stay on the app parameter path, and nobody may write the config', () => {
    for (const key of KEYS) {
      for (const s of statements(key).filter((s) => list(s.Action).some((a) => a.startsWith('ssm:')))) {
        for (const r of list(s.Resource).map(render)) {
          assert.ok(r.startsWith(`arn:${PARAMETERS}`), `${key}: ${s.Action} on ${r}`);
        }
      }
      for (const write of ['ssm:PutParameter', 'ssm:DeleteParameter']) {
        if (resourcesFor(statements(key), write).length > 0) {
          assert.deepEqual(resourcesFor(statements(key), write, 'Deny'), [`arn:${PARAMETERS}config`], key);
        }
      }
    }
  });

  test('each function is allowed exactly the actions it calls', () => {
    const allowed = (key: FunctionKey) =>
      [...new Set(statements(key).filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)))].sort();
    const ssmRead = ['ssm:GetParameter'];
    const ssmWrite = [...ssmRead, 'ssm:GetParameters', 'ssm:PutParameter', 'ssm:DeleteParameter'];
    const elb = ['elasticloadbalancing:Describe*', 'elasticloadbalancing:ModifyListener'];
    const services = ['ecs:DescribeServices', 'ecs:UpdateService'];
    // Publishing to the alert topic, encrypted by default: exactly the two
    // calls SNS makes with the publisher's rights.
    const publish = ['sns:Publish', 'kms:Decrypt', 'kms:GenerateDataKey'];
    const expected: Record<FunctionKey, string[]> = {
      smokeTest: ssmRead,
      monitor: [...ssmRead, 'elasticloadbalancing:Describe*', 'cloudwatch:GetMetricData', 'cloudwatch:DescribeAlarms'],
      switch: [...ssmRead, 'ssm:GetParameters', 'ssm:PutParameter', ...elb, 'ecs:DescribeServices'],
      rollback: [...ssmWrite, ...elb, ...services, ...publish, 'states:DescribeExecution', 'states:StopExecution'],
      deployIdle: [
        ...ssmWrite,
        ...elb,
        ...services,
        'ecs:RegisterTaskDefinition',
        'ecs:DescribeTaskDefinition',
        'ecs:DescribeTasks',
        'ecs:ListTaskDefinitions',
        'ecs:ListTasks',
        'ecs:RunTask',
        'ecs:StopTask',
        'ecs:TagResource',
        'iam:PassRole',
        'states:DescribeExecution',
        'cloudwatch:DescribeAlarms',
        ...publish,
      ],
    };
    for (const key of KEYS) assert.deepEqual(allowed(key), expected[key].sort(), key);
  });

  test('a function on its own may only log, read app configs and assume the roles apps made for it', () => {
    const configs = 'arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/bluegreen/*/config';
    const appRoles = `arn:<AWS::Partition>:iam::<AWS::AccountId>:role${switcher.appRolePath.slice(0)}*`;
    for (const key of KEYS) {
      const own = ownStatements(key);
      const actions = [...new Set(own.filter((s) => s.Effect === 'Allow').flatMap((s) => list(s.Action)))].sort();
      // The rollback's on-failure destination publishes to the alert topic,
      // encrypted with the switcher's key (CDK's grant: GenerateDataKey*).
      const destination = key === 'rollback' ? ['kms:Decrypt', 'kms:GenerateDataKey*', 'sns:Publish'] : [];
      assert.deepEqual(
        actions,
        ['logs:CreateLogStream', 'logs:PutLogEvents', 'ssm:GetParameter', 'sts:AssumeRole', ...destination].sort(),
        key,
      );
      assert.deepEqual(resourcesFor(own, 'ssm:GetParameter'), [configs], key);
      assert.deepEqual(resourcesFor(own, 'sts:AssumeRole'), [appRoles], key);
    }
  });

  test('each app role is under the switcher\'s path and may be assumed by its one function only', () => {
    for (const key of KEYS) {
      const role = template.toJSON().Resources[logicalId(app.roles[key])].Properties;
      assert.equal(role.Path, switcher.appRolePath, key);
      assert.deepEqual(role.AssumeRolePolicyDocument.Statement, [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { AWS: { 'Fn::GetAtt': [logicalId(switcher.role(key)), 'Arn'] } },
        },
      ]);
    }
  });

  test('the config names each function\'s role for the app', () => {
    const config = template.toJSON().Resources[id('App/Config')].Properties.Value;
    const text = JSON.stringify(config);
    for (const key of KEYS) assert.ok(text.includes(logicalId(app.roles[key])), key);
  });

  test('each function writes logs only to its own group, and no role has a managed policy', () => {
    for (const key of KEYS) {
      const group = template.toJSON().Resources[logicalId(switcher.functions[key])].Properties.LoggingConfig.LogGroup.Ref;
      for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents']) {
        assert.deepEqual(resourcesFor(ownStatements(key), action), [`<${group}.Arn>`], key);
        assert.deepEqual(resourcesFor(statements(key), action), [], key);
      }
      const role = template.toJSON().Resources[logicalId(switcher.role(key))].Properties;
      assert.equal(role.ManagedPolicyArns, undefined, `${key}: no AWSLambdaBasicExecutionRole`);
    }
  });

  test('no mutating action on `*` (task definitions excepted: AWS scopes them to nothing)', () => {
    const readOnly = /^[a-z-]+:(Describe|Get|List)/;
    for (const key of KEYS) {
      for (const s of statements(key).filter((s) => s.Effect === 'Allow' && s.Resource === '*')) {
        for (const action of list(s.Action)) {
          assert.ok(
            readOnly.test(action) || action === 'ecs:RegisterTaskDefinition',
            `${key} may ${action} on *`,
          );
        }
      }
    }
  });

  test('deploy-idle may tag task definitions only while registering them', () => {
    const tagging = statements('deployIdle').filter((s) => list(s.Action).includes('ecs:TagResource'));
    assert.equal(tagging.length, 1);
    assert.deepEqual(tagging[0].Condition, { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } });
    assert.match(JSON.stringify(tagging[0].Resource), /:task-definition\/\*/);
  });

  test('services are updated only by rollback and deploy-idle, on this app', () => {
    const services = [ref('blueService'), ref('greenService')];
    assert.deepEqual(resourcesFor(statements('rollback'), 'ecs:UpdateService'), services);
    assert.deepEqual(resourcesFor(statements('deployIdle'), 'ecs:UpdateService'), services);
    for (const key of ['switch', 'monitor', 'smokeTest'] as const) {
      assert.deepEqual(resourcesFor(statements(key), 'ecs:UpdateService'), [], key);
    }
  });

  test('deploy-idle may pass only the task definition roles, only to ECS tasks', () => {
    const pass = statements('deployIdle').filter((s) => list(s.Action).includes('iam:PassRole'));
    assert.equal(pass.length, 1);
    assert.deepEqual(list(pass[0].Resource).map(render), [
      `<${id('TaskDefinition/TaskRole')}.Arn>`,
      `<${id('TaskDefinition/ExecutionRole')}.Arn>`,
    ]);
    assert.deepEqual(pass[0].Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });

  test('rollback may stop only executions of the app\'s own state machine', () => {
    const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${logicalId(app.stateMachine)}.Name>:*`;
    assert.deepEqual(resourcesFor(statements('rollback'), 'states:StopExecution'), [executions]);
    assert.deepEqual(resourcesFor(statements('deployIdle'), 'states:DescribeExecution'), [executions]);
    for (const key of ['deployIdle', 'switch', 'monitor', 'smokeTest'] as const) {
      assert.deepEqual(resourcesFor(statements(key), 'states:StopExecution'), [], key);
    }
  });

  test('alerts go only from rollback and deploy-idle (scale-down on drift), only to the alert topic', () => {
    const alerts = [`<${logicalId(switcher.alertTopic)}>`];
    assert.deepEqual(resourcesFor(statements('rollback'), 'sns:Publish'), alerts);
    assert.deepEqual(resourcesFor(statements('deployIdle'), 'sns:Publish'), alerts);
    // The on-failure destination's grant, on the function's own role.
    assert.deepEqual(resourcesFor(ownStatements('rollback'), 'sns:Publish'), alerts);
    assert.deepEqual(resourcesFor(ownStatements('deployIdle'), 'sns:Publish'), []);
    for (const key of ['switch', 'monitor', 'smokeTest'] as const) {
      assert.deepEqual(resourcesFor(statements(key), 'sns:Publish'), [], key);
      assert.deepEqual(resourcesFor(ownStatements(key), 'sns:Publish'), [], key);
    }
  });
});

describe('emergency topic', () => {
  const topic = logicalId(switcher.emergencyTopic);
  const onCall = `<${id('EmergencyRollbackRole')}.Arn>`;
  const policy = () => {
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy')).filter((p) =>
      p.Properties.Topics.some((t: any) => t.Ref === topic),
    );
    assert.equal(policies.length, 1);
    return policies[0].Properties.PolicyDocument.Statement as any[];
  };

  test('only the given principals may publish', () => {
    const allows = policy().filter((s) => s.Effect === 'Allow');
    assert.equal(allows.length, 1);
    assert.equal(allows[0].Action, 'sns:Publish');
    assert.deepEqual(list(allows[0].Principal.AWS).map(render), [onCall]);

    const denyOthers = policy().filter((s) => s.Effect === 'Deny' && s.Condition?.ArnNotLike);
    assert.equal(denyOthers.length, 1);
    assert.equal(denyOthers[0].Action, 'sns:Publish');
    assert.deepEqual(denyOthers[0].Principal, { AWS: '*' });
    assert.deepEqual(denyOthers[0].Condition.ArnNotLike['aws:PrincipalArn'].map(render), [onCall]);
  });

  test('publishing without TLS is denied', () => {
    const tls = policy().filter((s) => s.Effect === 'Deny' && s.Condition?.Bool);
    assert.equal(tls.length, 1);
    assert.deepEqual(tls[0].Condition, { Bool: { 'aws:SecureTransport': 'false' } });
    assert.deepEqual(tls[0].Principal, '*');
  });

  test('the rollback function is subscribed', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { Ref: topic },
      Endpoint: { 'Fn::GetAtt': [logicalId(switcher.functions.rollback), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'sns.amazonaws.com',
      SourceArn: { Ref: topic },
      FunctionName: { 'Fn::GetAtt': [logicalId(switcher.functions.rollback), 'Arn'] },
    });
  });

  test('only the emergency topic, the state machine and rules under the switcher\'s prefix may invoke the rollback function', () => {
    const rollback = logicalId(switcher.functions.rollback);
    const targetsRollback = (r: unknown) => {
      const text = render(r);
      return text === '*' || text.startsWith(`<${rollback}.Arn>`) || text.startsWith('arn:*:lambda');
    };
    // Resource policies: two, for SNS from the emergency topic only and for
    // EventBridge from rules of this account named under the switcher's
    // prefix only (see "a release that ends without succeeding").
    const permissions = Object.values(template.findResources('AWS::Lambda::Permission'))
      .filter((p) => targetsRollback(p.Properties.FunctionName))
      .map((p) => [p.Properties.Principal, render(p.Properties.SourceArn), render(p.Properties.SourceAccount ?? '')]);
    assert.deepEqual(
      permissions.sort(),
      [
        ['events.amazonaws.com', END_RULES, '<AWS::AccountId>'],
        ['sns.amazonaws.com', `<${topic}>`, ''],
      ],
      JSON.stringify(permissions),
    );
    // Identity policies in the stack: only the state machine's role.
    const invokers = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) =>
        p.Properties.PolicyDocument.Statement.some(
          (s: any) =>
            s.Effect === 'Allow' &&
            list(s.Action).some((a: string) => ['lambda:InvokeFunction', 'lambda:*', '*'].includes(a)) &&
            list(s.Resource).some(targetsRollback),
        ),
      )
      .flatMap((p) => p.Properties.Roles.map((r: any) => r.Ref));
    assert.deepEqual(invokers, [logicalId(app.stateMachine.role)]);
  });

  test('outputs name the app\'s state machine, the topic and the rollback function', () => {
    const outputs = Object.values(template.toJSON().Outputs).map((o: any) => render(o.Value));
    assert.ok(outputs.includes(`<${logicalId(app.stateMachine)}>`));
    assert.ok(outputs.includes(`<${topic}>`));
    assert.ok(outputs.includes(`<${logicalId(switcher.functions.rollback)}>`));
  });
});

describe('a release that ends without succeeding', () => {
  const rollback = logicalId(switcher.functions.rollback);
  const ruleId = logicalId(app.unsuccessfulEndRule);
  const rule = () => {
    assert.deepEqual(Object.keys(template.findResources('AWS::Events::Rule')), [ruleId], 'one rule');
    return template.toJSON().Resources[ruleId].Properties;
  };
  const MACHINE = 'arn:aws:states:us-east-1:123456789012:stateMachine:AppStateMachine-1';
  /** The rule's pattern with MACHINE in place of the state machine's Ref. */
  const pattern = () => {
    const text = JSON.stringify(rule().EventPattern);
    return JSON.parse(text.split(JSON.stringify({ Ref: logicalId(app.stateMachine) })).join(JSON.stringify(MACHINE)));
  };
  const input = { app: 'checkout', release: { version: 'v2', image: 'example/checkout:v2' } };

  test('the rule hears the app\'s own state machine end FAILED, TIMED_OUT or ABORTED, on the default bus', () => {
    assert.deepEqual(rule().EventPattern, {
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        stateMachineArn: [{ Ref: logicalId(app.stateMachine) }],
        status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
      },
    });
    assert.equal(rule().State, 'ENABLED');
    assert.equal(rule().EventBusName, undefined, 'Step Functions sends to the default bus');
  });

  test('matches the event of an execution stopped, timed out or failed; not one that succeeded or runs, nor another machine\'s', () => {
    for (const status of ['FAILED', 'TIMED_OUT', 'ABORTED']) {
      assert.ok(matchesPattern(pattern(), executionStatusChange(MACHINE, status, input)), status);
    }
    for (const status of ['SUCCEEDED', 'RUNNING', 'PENDING_REDRIVE']) {
      assert.ok(!matchesPattern(pattern(), executionStatusChange(MACHINE, status, input)), status);
    }
    const other = 'arn:aws:states:us-east-1:123456789012:stateMachine:OtherStateMachine-1';
    assert.ok(!matchesPattern(pattern(), executionStatusChange(other, 'ABORTED', input)));
  });

  test('hands the raw event to the rollback function: no input transformer, 4 retries within an hour, no role', () => {
    // Exactly these keys: no Input, InputPath, InputTransformer, RoleArn or
    // DeadLetterConfig.
    assert.deepEqual(rule().Targets, [
      {
        Arn: { 'Fn::GetAtt': [rollback, 'Arn'] },
        Id: 'Target0',
        RetryPolicy: { MaximumRetryAttempts: 4, MaximumEventAgeInSeconds: 3600 },
      },
    ]);
  });

  test('the rule is named under the switcher\'s prefix: the switcher\'s one permission admits it, and it adds none', () => {
    assert.match(switcher.endRulePrefix, /^bluegreen-[0-9a-f]{8}-$/);
    assert.equal(rule().Name, `${switcher.endRulePrefix}checkout`);
    assert.equal(rule().Name, app.unsuccessfulEndRuleName);
    const fromEvents = Object.values(template.findResources('AWS::Lambda::Permission')).filter(
      (p) => p.Properties.Principal === 'events.amazonaws.com',
    );
    assert.equal(fromEvents.length, 1);
    assert.deepEqual(fromEvents[0].Properties, {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [rollback, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: {
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':events:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            `:rule/${switcher.endRulePrefix}*`,
          ],
        ],
      },
    });
    // What Lambda's ArnLike makes of the pattern: the rule's ARN matches it.
    const ruleArn = `arn:aws:events:us-east-1:123456789012:rule/${rule().Name}`;
    assert.ok(arnLike(inUsEast1(END_RULES), ruleArn), ruleArn);
    assert.ok(!arnLike(inUsEast1(END_RULES), 'arn:aws:events:us-east-1:123456789012:rule/checkout-end'));
    assert.ok(!arnLike(inUsEast1(END_RULES), ruleArn.replace('123456789012', '210987654321')), 'another account');
  });

  test('the rollback function confirms the end only with the app\'s rollback role, on the app\'s own executions', () => {
    // What keeps an event of app A's state machine whose input names app B
    // (refused by A's first state) from acting on B: B's role cannot describe
    // A's executions.
    const executions = `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<${logicalId(app.stateMachine)}.Name>:*`;
    assert.deepEqual(resourcesFor(statements('rollback'), 'states:DescribeExecution'), [executions]);
    assert.deepEqual(resourcesFor(ownStatements('rollback'), 'states:DescribeExecution'), [], 'not on its own role');
  });
});

describe('functions and state machine', () => {
  test('five arm64 provided.al2023 functions with the prefix and explicit log groups', () => {
    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: {
        Runtime: 'provided.al2023',
        Architectures: ['arm64'],
        MemorySize: Match.anyValue(),
        Handler: 'bootstrap',
        Environment: { Variables: { BLUEGREEN_PREFIX: '/bluegreen' } },
        LoggingConfig: { LogGroup: Match.anyValue() },
      },
    });
    assert.equal(Object.keys(fns).length, 5);
    for (const key of KEYS) {
      const memory = template.toJSON().Resources[logicalId(switcher.functions[key])].Properties.MemorySize;
      assert.equal(memory, key === 'rollback' ? 1769 : 256, key);
    }
    assert.equal(template.toJSON().Resources[logicalId(switcher.functions.smokeTest)].Properties.Timeout, 300);
    assert.equal(template.toJSON().Resources[logicalId(switcher.functions.switch)].Properties.Timeout, 30);
  });

  test('each function runs a binary the Cargo workspace builds', () => {
    // cargo-lambda-cdk does not check binaryName at synth; a typo would only
    // show in a real bundling run.
    const functionsDir = path.join(__dirname, '..', '..', 'functions');
    const bins = readdirSync(functionsDir)
      .map((d) => path.join(functionsDir, d, 'Cargo.toml'))
      .filter(existsSync)
      .flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\[\[bin\]\]\s*name\s*=\s*"([^"]+)"/g)].map((m) => m[1]));
    const used = Object.values(template.findResources('AWS::Lambda::Function')).map((f) => f.Metadata[BINARY_METADATA_KEY]);
    assert.deepEqual(used.sort(), ['deploy-idle', 'monitor', 'rollback', 'smoke-test', 'switch']);
    for (const binary of used) assert.ok(bins.includes(binary), `no [[bin]] named ${binary} under functions/`);
  });

  test('a Standard state machine with full logging and tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: true,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }],
      },
      TracingConfiguration: { Enabled: true },
    });
  });
});

describe('config parameter', () => {
  const parameter = template.toJSON().Resources[logicalId(app.configParameter)].Properties;
  const config = JSON.parse(render(parameter.Value));

  test('is written at <prefix>/<app>/config', () => {
    assert.equal(parameter.Name, '/bluegreen/checkout/config');
    assert.equal(parameter.Type, 'String');
  });

  test('holds the example app in the documented shape', () => {
    const dns = `<${id('Alb')}.DNSName>`;
    assert.deepEqual(config, {
      app: 'checkout',
      cluster: ref('Cluster'),
      blue: { service: `<${id('blueService')}.Name>`, target_group_arn: ref('BlueTargetGroup') },
      green: { service: `<${id('greenService')}.Name>`, target_group_arn: ref('GreenTargetGroup') },
      production: { listener_arn: ref('Alb/Production'), stickiness_seconds: 300 },
      test: { listener_arn: ref('Alb/Test'), url: `http://${dns}:8080` },
      container: 'app',
      deploy_timeout_seconds: 600,
      strategy: { type: 'weighted', steps: [10, 50, 100], bake_seconds: 300 },
      monitor: {
        max_5xx_rate: 0.01,
        max_p99_ms: 1000,
        min_requests: 50,
        alarm_names: [ref('Elb5xxAlarm')],
        probe_url: `http://${dns}/version`,
        probe_requests: 5,
        probe_timeout_ms: 2000,
        version_timeout_seconds: 120,
        compare_with_previous: true,
        max_p99_regression: 1.5,
      },
      warm_window_seconds: 86400,
      idle_capacity_after_window: 0,
      alert_topic_arn: `<${logicalId(switcher.alertTopic)}>`,
      roles: {
        deploy_idle: `<${logicalId(app.roles.deployIdle)}.Arn>`,
        smoke_test: `<${logicalId(app.roles.smokeTest)}.Arn>`,
        switch: `<${logicalId(app.roles.switch)}.Arn>`,
        monitor: `<${logicalId(app.roles.monitor)}.Arn>`,
        rollback: `<${logicalId(app.roles.rollback)}.Arn>`,
      },
    });
  });

  test('the production listener starts with the stickiness the switcher writes', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      DefaultActions: [
        Match.objectLike({ ForwardConfig: Match.objectLike({ TargetGroupStickinessConfig: { Enabled: true, DurationSeconds: 300 } }) }),
      ],
    });
  });

  test('uses only fields documented in docs/config.md', () => {
    const example = JSON.parse(doc.split('```json')[1].split('```')[0]);
    // test.rule_arn is in the doc's table, not in its example.
    const documented = new Set([...keyPaths(example), 'test.rule_arn']);
    for (const key of keyPaths(config)) {
      assert.ok(documented.has(key), `${key} is not in docs/config.md`);
    }
  });
});

describe('docs/config.md', () => {
  test('names every field of the Rust schema in its table, and only those', () => {
    // The config section ends where the state's begins.
    const table = doc.split('\n# State')[0].split('\n').filter((l) => l.startsWith('| `'));
    const named = new Set(table.flatMap((l) => [...l.split('|')[1].matchAll(/`([a-z0-9_.]+)`/g)].map((m) => m[1])));
    const rust = schemaConfigFields();
    for (const field of rust) assert.ok(named.has(field), `docs/config.md has no row for \`${field}\``);
    for (const field of named) assert.ok(rust.includes(field), `docs/config.md documents \`${field}\`, which the Rust schema lacks`);
  });

  test('its example holds only fields of the Rust schema', () => {
    const example = JSON.parse(doc.split('```json')[1].split('```')[0]);
    const rust = new Set(schemaConfigFields());
    for (const key of keyPaths(example)) assert.ok(rust.has(key), key);
  });
});

describe('the private test listener', () => {
  test('port 8080 admits the VPC only, and the smoke tests run in the VPC to reach it', () => {
    const groups = Object.values(template.findResources('AWS::EC2::SecurityGroup')).map((g) => g.Properties);
    const open = groups.flatMap((g) => g.SecurityGroupIngress ?? []).filter((i: any) => i.FromPort === 8080);
    assert.deepEqual(
      open.map((i: any) => i.CidrIp),
      [{ 'Fn::GetAtt': [id('Vpc'), 'CidrBlock'] }],
      'the test listener: the VPC only, never 0.0.0.0/0',
    );
    const fn = (key: FunctionKey) => template.toJSON().Resources[logicalId(switcher.functions[key])].Properties;
    assert.ok(fn('smokeTest').VpcConfig, 'the smoke tests run in the VPC');
    assert.equal(fn('monitor').VpcConfig, undefined, 'the monitor probes the public listener from outside');
    assert.equal(fn('rollback').VpcConfig, undefined, 'the rollback never depends on the VPC');
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) =>
      JSON.stringify(e.Properties.ServiceName).replace(/.*"\.([a-z]+)".*/, '$1'),
    );
    assert.deepEqual(endpoints.sort(), ['ssm', 'sts']);
  });
});
