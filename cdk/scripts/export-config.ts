// Writes cdk/example-config.json: the example app's config document with
// placeholders for every CloudFormation token. The Rust tests parse it with
// the Lambdas' parser; test/example-config.test.ts fails when it drifts.
import { writeFileSync } from 'fs';
import * as path from 'path';
import { exampleConfigJson } from '../lib/example-config';

const file = path.join(__dirname, '..', 'example-config.json');
writeFileSync(file, exampleConfigJson());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
