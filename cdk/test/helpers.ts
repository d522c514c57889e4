import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { IConstruct } from 'constructs';

/** An app that bundles nothing: no Docker, no Rust build, no network. */
export function offlineApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
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

const rustSource = (file: string) => readFileSync(path.join(__dirname, '..', '..', 'functions', 'core', 'src', file), 'utf8');

/** The lines of `pub struct|enum <name> { ... }` in `source` that declare fields (no doc comments or attributes). */
function rustBody(source: string, file: string, kind: 'struct' | 'enum', name: string): string[] {
  const m = source.match(new RegExp(`pub ${kind} ${name} \\{\\n([\\s\\S]*?)\\n\\}`));
  if (!m) throw new Error(`no ${kind} ${name} in ${file}`);
  return m[1].split('\n').filter((l) => !/^\s*(\/\/|#\[)/.test(l));
}

/** A Rust struct's `pub` fields and their types. */
function rustStructFields(source: string, file: string, name: string): { field: string; type: string }[] {
  return rustBody(source, file, 'struct', name).flatMap((l) => {
    const m = l.match(/^\s*pub ([a-z_][a-z0-9_]*): (.+),\s*$/);
    return m ? [{ field: m[1], type: m[2] }] : [];
  });
}

/**
 * Every field path of the Rust config schema (`functions/core/src/config.rs`),
 * such as `monitor.probe_url`: the fields of `AppConfig` and of the structs it
 * nests, and of the `Strategy` variants plus their `type` tag. Read from the
 * source, so a field added or renamed there shows here without a Rust build.
 * A list is one field (`monitor.checks`); the fields of its elements are
 * `rustCheckFields()`.
 */
export function rustConfigFields(): string[] {
  const file = 'config.rs';
  const source = rustSource(file);
  const fields = (name: string, prefix: string): string[] => {
    if (name === 'Strategy') {
      const names = rustBody(source, file, 'enum', name).flatMap((l) =>
        [...l.matchAll(/\b([a-z_][a-z0-9_]*):\s/g)].map((m) => m[1]),
      );
      return ['type', ...new Set(names)].map((n) => `${prefix}${n}`);
    }
    return rustStructFields(source, file, name).flatMap(({ field, type }) => {
      const nested = type.match(/\b(ColorConfig|RouteConfig|TestRouteConfig|Strategy|MonitorConfig|AppRoles)\b/);
      const p = `${prefix}${field}`;
      return nested ? [p, ...fields(nested[1], `${p}.`)] : [p];
    });
  };
  return fields('AppConfig', '');
}

/**
 * The fields of one element of `monitor.checks`: Rust's `MetricCheck`
 * (`functions/core/src/metric_check.rs`), read from the source.
 */
export function rustCheckFields(): string[] {
  const config = rustStructFields(rustSource('config.rs'), 'config.rs', 'MonitorConfig').find((f) => f.field === 'checks');
  if (!config || !/\bVec<[\w:]*MetricCheck>/.test(config.type)) {
    throw new Error('MonitorConfig in config.rs has no `checks: Vec<MetricCheck>`');
  }
  const file = 'metric_check.rs';
  return rustStructFields(rustSource(file), file, 'MetricCheck').map((f) => f.field);
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
