import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';
import { APP_CONFIG_SCHEMA } from '../lib/config-schema';

/**
 * An app that bundles nothing: no Docker, no Rust build, no network. Nor does
 * it run aws-cdk-lib's built-in CloudFormation validation at each synth (a
 * WASM engine that reports only warnings, and took 40% of these tests' CPU):
 * the test command runs cfn-lint over the synthesized example stack instead.
 */
export function offlineApp(): App {
  return new App({
    context: { 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
}

export function logicalId(construct: IConstruct): string {
  const resource = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(construct).getLogicalId(resource);
}

/**
 * A template value as text: joins are joined, `Ref X` becomes `<X>` and
 * `Fn::GetAtt [X, A]` becomes `<X.A>`, so tests can compare and parse it.
 */
export function render(v: unknown): string {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  const o = v as Record<string, any>;
  if (o['Fn::Join']) return o['Fn::Join'][1].map(render).join(o['Fn::Join'][0]);
  if (o.Ref) return `<${o.Ref}>`;
  if (o['Fn::GetAtt']) return `<${o['Fn::GetAtt'].join('.')}>`;
  throw new Error(`cannot render ${JSON.stringify(v)}`);
}

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, any>;
}

export const list = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

/** Every statement of every IAM policy attached to the role. */
export function statementsOf(template: Template, roleLogicalId: string): Statement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    p.Properties.Roles.some((r: any) => r.Ref === roleLogicalId),
  );
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The rendered resources of the statements with this effect that grant `action`. */
export function resourcesFor(statements: Statement[], action: string, effect = 'Allow'): string[] {
  return statements
    .filter((s) => s.Effect === effect && list(s.Action).includes(action))
    .flatMap((s) => list(s.Resource).map(render));
}

type SchemaNode = {
  $ref?: string;
  allOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
};

/** A schema node with `$ref` and a one-element `allOf` followed. */
function resolved(node: SchemaNode): SchemaNode {
  if (node.$ref) return resolved(APP_CONFIG_SCHEMA.definitions[node.$ref.replace('#/definitions/', '')]);
  if (node.allOf?.length === 1) return resolved(node.allOf[0]);
  return node;
}

/** The properties of an object node; of every variant for a `oneOf`. */
function propertiesOf(node: SchemaNode): Record<string, SchemaNode> | undefined {
  const n = resolved(node);
  if (n.oneOf) return Object.assign({}, ...n.oneOf.map((v) => propertiesOf(v) ?? {}));
  return n.properties;
}

/**
 * Every field path of the app config (`monitor.probe_url`), from the schema
 * the Rust types generate (`schemas/app-config.schema.json`, held current by
 * a Rust test): the fields of the document and of the objects it nests, the
 * strategy's variants together. A list is one field (`monitor.checks`); the
 * fields of its elements are `schemaCheckFields()`. `$schema` (an editor's
 * hint, no setting) is left out.
 */
export function schemaConfigFields(): string[] {
  const fields = (node: SchemaNode, prefix: string): string[] =>
    Object.entries(propertiesOf(node) ?? {})
      .filter(([name]) => name !== '$schema')
      .flatMap(([name, child]) => {
        const p = `${prefix}${name}`;
        return propertiesOf(child) ? [p, ...fields(child, `${p}.`)] : [p];
      });
  return fields(APP_CONFIG_SCHEMA, '');
}

/** The fields of one element of `monitor.checks`, from the schema. */
export function schemaCheckFields(): string[] {
  const checks = propertiesOf(propertiesOf(APP_CONFIG_SCHEMA)!.monitor)!.checks;
  return Object.keys(propertiesOf(resolved(checks).items!)!);
}

/** `a`, `a.b`, ... for every object key (arrays are leaves). */
export function keyPaths(o: object, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => {
    const p = prefix + k;
    return v && typeof v === 'object' && !Array.isArray(v) ? [p, ...keyPaths(v, `${p}.`)] : [p];
  });
}

/**
 * Whether an EventBridge event pattern matches an event, for patterns made
 * only of exact values (what bluegreen's rules use): every key of the pattern
 * is in the event; a list names the values it accepts, an object nests.
 * Tokens in the pattern must be resolved (or substituted) first.
 */
export function matchesPattern(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, want]) => {
    const got = event[key];
    if (Array.isArray(want)) return want.some((w) => w === got);
    if (want && typeof want === 'object') {
      return !!got && typeof got === 'object' && matchesPattern(want as Record<string, unknown>, got as Record<string, unknown>);
    }
    throw new Error(`pattern value of ${key} is neither a list nor an object: ${JSON.stringify(want)}`);
  });
}

/**
 * The event Step Functions sends to EventBridge when an execution changes
 * status, in the shape the rollback function parses (as AWS documents it).
 */
export function executionStatusChange(stateMachineArn: string, status: string, input: object): Record<string, unknown> {
  const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:release-1`;
  return {
    version: '0',
    id: '315c1398-40ff-a850-213b-158f73e60175',
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '123456789012',
    time: '2026-12-06T10:00:00Z',
    region: 'us-east-1',
    resources: [executionArn],
    detail: {
      executionArn,
      stateMachineArn,
      name: 'release-1',
      status,
      startDate: 1796464800000,
      stopDate: 1796465100000,
      input: JSON.stringify(input),
      output: null,
      inputDetails: { included: true },
      outputDetails: null,
    },
  };
}

/**
 * IAM's `ArnLike`: each of an ARN's six colon-separated parts matches the
 * pattern's, where `*` stands for any characters (`/` too) and `?` for one.
 */
export function arnLike(pattern: string, arn: string): boolean {
  const parts = (a: string) => {
    const p = a.split(':');
    return [...p.slice(0, 5), p.slice(5).join(':')];
  };
  const escape = (x: string) => x.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  const glob = (p: string) => new RegExp(`^${p.split('*').map((x) => x.split('?').map(escape).join('.')).join('.*')}$`);
  const want = parts(pattern);
  const got = parts(arn);
  return got.length === 6 && want.every((p, i) => glob(p).test(got[i]));
}

/** A rendered value with the pseudo parameters of account 123456789012 in us-east-1 (partition aws). */
export function inUsEast1(rendered: string): string {
  return rendered
    .replaceAll('<AWS::Partition>', 'aws')
    .replaceAll('<AWS::Region>', 'us-east-1')
    .replaceAll('<AWS::AccountId>', '123456789012');
}
