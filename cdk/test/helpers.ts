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
