// Acknowledging cdk-nag findings next to the constructs they concern, with
// CDK's own `Validations.of(construct).acknowledge()` (what cdk-nag 3 reads;
// it replaced v2's NagSuppressions). The constructs do not depend on
// cdk-nag: test/nag.test.ts runs its AwsSolutions pack.

import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * A template value as cdk-nag names it in a finding: joins joined,
 * `Ref X` as `<X>`, `Fn::GetAtt [X, A]` as `<X.A>`. Resolved when called, so
 * call it after the construct's logical ID is final.
 */
export function nagText(scope: IConstruct, value: string): string {
  const visit = (v: any): string => {
    if (typeof v === 'string') return v.replace(/\$\{/g, '<').replace(/\}/g, '>');
    if (v['Fn::Join']) return v['Fn::Join'][1].map(visit).join(v['Fn::Join'][0]);
    if (v['Fn::GetAtt']) return `<${visit(v['Fn::GetAtt'][0])}.${visit(v['Fn::GetAtt'][1])}>`;
    if (v.Ref) return `<${visit(v.Ref)}>`;
    return JSON.stringify(v);
  };
  return visit(Stack.of(scope).resolve(value));
}

/**
 * Acknowledges AwsSolutions-IAM5 (wildcard permissions) on `scope` for
 * exactly these wildcard resources and actions, each with the reason.
 */
export function acknowledgeWildcards(
  scope: IConstruct,
  wildcards: { resources?: string[]; actions?: string[] },
  reason: string,
): void {
  const ids = [
    ...(wildcards.resources ?? []).map((r) => `Resource::${r === '*' ? r : nagText(scope, r)}`),
    ...(wildcards.actions ?? []).map((a) => `Action::${a}`),
  ];
  for (const id of ids) Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${id}]`, reason });
}

/** Acknowledges one cdk-nag rule on `scope` (and what it contains). */
export function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: rule, reason });
}
