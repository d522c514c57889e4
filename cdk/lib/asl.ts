// Plain ASL from a synthesized template, for the checked-in
// state-machine.asl.json that local mode runs in the emulator. The template's
// DefinitionString is an Fn::Join whose tokens are the functions' ARNs and
// pseudo parameters; each becomes a fixed placeholder.

import { App } from 'aws-cdk-lib';
import { ExampleStack } from './example-stack';
import { BINARY_METADATA_KEY } from './switcher';

export const PLACEHOLDER = {
  partition: 'aws',
  region: 'us-east-1',
  account: '123456789012',
};

/** The ARN the local Lambda host answers for a binary. */
export function placeholderFunctionArn(binary: string): string {
  const { partition, region, account } = PLACEHOLDER;
  return `arn:${partition}:lambda:${region}:${account}:function:bluegreen-${binary}`;
}

type Template = { Resources: Record<string, { Type: string; Properties?: any; Metadata?: any }> };

/** The one state machine's definition with every token replaced. */
export function resolveDefinition(template: Template): unknown {
  const resources = Object.entries(template.Resources);
  const machines = resources.filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) {
    throw new Error(`expected one state machine in the template, found ${machines.length}`);
  }
  const binaries = new Map(
    resources
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[BINARY_METADATA_KEY])
      .map(([id, r]) => [id, r.Metadata[BINARY_METADATA_KEY] as string]),
  );
  const pseudo: Record<string, string> = {
    'AWS::Partition': PLACEHOLDER.partition,
    'AWS::Region': PLACEHOLDER.region,
    'AWS::AccountId': PLACEHOLDER.account,
  };

  const resolve = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, any>;
    if (o['Fn::Join']) {
      const [separator, parts] = o['Fn::Join'];
      return parts.map(resolve).join(separator);
    }
    if (o.Ref && pseudo[o.Ref]) return pseudo[o.Ref];
    if (o['Fn::GetAtt']) {
      const [id, attribute] = o['Fn::GetAtt'];
      const binary = binaries.get(id);
      if (binary && attribute === 'Arn') return placeholderFunctionArn(binary);
    }
    throw new Error(`cannot resolve ${JSON.stringify(v)} in the state machine definition`);
  };
  return JSON.parse(resolve(machines[0][1].Properties.DefinitionString));
}

/** The example stack's template, synthesized without bundling (no Rust build). */
export function exampleTemplate(): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ExampleStack(app, 'BlueGreenExample');
  return app.synth().getStackArtifact(stack.artifactId).template;
}

/** The checked-in file's exact text. */
export function exampleAsl(): string {
  return JSON.stringify(resolveDefinition(exampleTemplate()), null, 2) + '\n';
}
