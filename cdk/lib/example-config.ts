// The example app's config document as plain JSON, for the checked-in
// example-config.json: a contract fixture that the Rust tests parse with the
// Lambdas' own parser. The template's parameter value is an Fn::Join whose
// tokens are resource references and pseudo parameters; each becomes a
// stable placeholder of the kind the Lambdas validate (ELB and SNS ARNs,
// names, DNS names). A token of any other kind fails the export.

import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { PLACEHOLDER } from './asl';
import { BlueGreenApp } from './blue-green-app';
import { ExampleStack } from './example-stack';

type Resource = { Type: string; Properties?: any };
type Template = { Resources: Record<string, Resource> };

/** A 16-digit hex id, as ELB ARNs carry them: 1 → `0000000000000001`. */
const hexId = (n: number) => n.toString(16).padStart(16, '0');

/**
 * The config document of `app` in `template`, every token replaced by a
 * placeholder. Placeholders depend on the resources and the order in which
 * the document first names them, never on logical IDs.
 */
export function resolveAppConfig(template: Template, parameterLogicalId: string, app: string): Record<string, unknown> {
  const resources = template.Resources;
  const value = resources[parameterLogicalId]?.Properties?.Value;
  if (value === undefined) throw new Error(`no parameter ${parameterLogicalId} in the template`);
  const { partition, region, account } = PLACEHOLDER;
  const elbArn = (resource: string) => `arn:${partition}:elasticloadbalancing:${region}:${account}:${resource}`;

  // One placeholder per resource (and attribute), numbered per type.
  const memo = new Map<string, string>();
  const counters = new Map<string, number>();
  const once = (key: string, type: string, make: (n: number) => string) => {
    if (!memo.has(key)) {
      const n = (counters.get(type) ?? 0) + 1;
      counters.set(type, n);
      memo.set(key, make(n));
    }
    return memo.get(key)!;
  };
  const resourceOf = (id: string, type: string) => {
    const r = resources[id];
    if (r?.Type !== type) throw new Error(`${id} is not a ${type}`);
    return r;
  };
  const literal = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const refTo = (v: any) => (typeof v?.Ref === 'string' ? (v.Ref as string) : undefined);

  const loadBalancer = (id: string) => {
    const r = resourceOf(id, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const name = literal(r.Properties?.Name) ?? app;
    const n = Number(once(`lb:${id}`, 'lb', (n) => String(n)));
    return { name, n, prefix: r.Properties?.Type === 'network' ? 'net' : 'app' };
  };
  const listener = (id: string) =>
    once(id, 'listener', (n) => {
      const lbId = refTo(resourceOf(id, 'AWS::ElasticLoadBalancingV2::Listener').Properties?.LoadBalancerArn);
      if (!lbId) throw new Error(`listener ${id}: its load balancer is not in this template`);
      const lb = loadBalancer(lbId);
      return elbArn(`listener/${lb.prefix}/${lb.name}/${hexId(lb.n)}/${hexId(n)}`);
    });
  // A target group without a name is named after the ECS service it serves.
  const targetGroupName = (id: string, n: number) =>
    literal(resources[id].Properties?.Name) ??
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::ECS::Service')
      .filter((r) => (r.Properties?.LoadBalancers ?? []).some((lb: any) => refTo(lb.TargetGroupArn) === id))
      .map((r) => literal(r.Properties?.ServiceName))
      .find((name) => name !== undefined) ??
    `${app}-${n}`;

  const refs: Record<string, (id: string) => string> = {
    'AWS::ElasticLoadBalancingV2::TargetGroup': (id) =>
      once(id, 'tg', (n) => elbArn(`targetgroup/${targetGroupName(id, n)}/${hexId(n)}`)),
    'AWS::ElasticLoadBalancingV2::Listener': listener,
    'AWS::ElasticLoadBalancingV2::ListenerRule': (id) =>
      once(id, 'rule', (n) => {
        const listenerId = refTo(resources[id].Properties?.ListenerArn);
        if (!listenerId) throw new Error(`listener rule ${id}: its listener is not in this template`);
        return `${listener(listenerId).replace(':listener/', ':listener-rule/')}/${hexId(n)}`;
      }),
    'AWS::SNS::Topic': (id) =>
      once(id, 'topic', (n) => {
        const name = literal(resources[id].Properties?.TopicName) ?? (n === 1 ? `${app}-alerts` : `${app}-alerts-${n}`);
        return `arn:${partition}:sns:${region}:${account}:${name}`;
      }),
    'AWS::ECS::Cluster': (id) =>
      once(id, 'cluster', (n) => literal(resources[id].Properties?.ClusterName) ?? (n === 1 ? `${app}-cluster` : `${app}-cluster-${n}`)),
    'AWS::CloudWatch::Alarm': (id) =>
      once(id, 'alarm', (n) => literal(resources[id].Properties?.AlarmName) ?? `${app}-alarm-${n}`),
  };
  const attributes: Record<string, (id: string) => string> = {
    'AWS::ECS::Service.Name': (id) =>
      once(`${id}.Name`, 'service', (n) => literal(resources[id].Properties?.ServiceName) ?? `${app}-service-${n}`),
    // A role's ARN as IAM writes it: its path, then a name CloudFormation made up.
    'AWS::IAM::Role.Arn': (id) =>
      once(`${id}.Arn`, 'role', (n) => {
        const path = literal(resources[id].Properties?.Path) ?? '/';
        return `arn:${partition}:iam::${account}:role${path}${app}-role-${n}`;
      }),
    'AWS::ElasticLoadBalancingV2::LoadBalancer.DNSName': (id) => {
      const lb = loadBalancer(id);
      return `${lb.name}-${String(lb.n).padStart(10, '0')}.${region}.elb.amazonaws.com`;
    },
  };
  const pseudo: Record<string, string> = {
    'AWS::Partition': partition,
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::URLSuffix': 'amazonaws.com',
  };

  // Literal parts are JSON text already; a token's value lands inside a JSON string.
  const token = (v: any): string => {
    const ref = refTo(v);
    if (ref && pseudo[ref]) return pseudo[ref];
    if (ref && resources[ref] && refs[resources[ref].Type]) return refs[resources[ref].Type](ref);
    if (Array.isArray(v?.['Fn::GetAtt'])) {
      const [id, attribute] = v['Fn::GetAtt'];
      const make = resources[id] && attributes[`${resources[id].Type}.${attribute}`];
      if (make) return make(id);
    }
    throw new Error(
      `cannot resolve ${JSON.stringify(v)} in the config of ${app}: give it a placeholder in lib/example-config.ts`,
    );
  };
  const text = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const join = (v as any)?.['Fn::Join'];
    if (join) return join[1].map(text).join(join[0]);
    return JSON.stringify(token(v)).slice(1, -1);
  };
  return JSON.parse(text(value));
}

/** The example stack's template and its app, synthesized without bundling (no Rust build). */
export function exampleAppConfig(): Record<string, unknown> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ExampleStack(app, 'BlueGreenExample');
  const apps = stack.node.findAll().filter((c): c is BlueGreenApp => c instanceof BlueGreenApp);
  if (apps.length !== 1) throw new Error(`expected one BlueGreenApp in the example stack, found ${apps.length}`);
  const template = app.synth().getStackArtifact(stack.artifactId).template;
  const parameter = Stack.of(apps[0]).getLogicalId(apps[0].configParameter.node.defaultChild as CfnElement);
  return resolveAppConfig(template, parameter, apps[0].appName);
}

/** The checked-in file's exact text. */
export function exampleConfigJson(): string {
  return JSON.stringify(exampleAppConfig(), null, 2) + '\n';
}
