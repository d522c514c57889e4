// The example app: `npx cdk synth -c skipBundling=true` (offline, no Rust
// build) or `npx cdk deploy -c image=<your image>` (bundles the Lambdas).
import { App } from 'aws-cdk-lib';
import { ExampleStack } from '../lib/example-stack';

const app = new App();
// The CLI refuses `aws:`-prefixed context from the command line, so the app
// turns its own flag into "bundle no stack" before any stack exists. Never
// deploy what this produces: the Lambdas' asset is the Rust source folder.
if (String(app.node.tryGetContext('skipBundling')) === 'true') {
  app.node.setContext('aws:cdk:bundling-stacks', []);
}
new ExampleStack(app, 'BlueGreenExample', {
  image: app.node.tryGetContext('image'),
  appName: app.node.tryGetContext('appName'),
});
