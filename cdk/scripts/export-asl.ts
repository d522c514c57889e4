// Writes cdk/state-machine.asl.json from the example stack: the ASL local mode
// runs. test/asl.test.ts fails when the file and the construct disagree.
import { writeFileSync } from 'fs';
import * as path from 'path';
import { exampleAsl } from '../lib/asl';

const file = path.join(__dirname, '..', 'state-machine.asl.json');
writeFileSync(file, exampleAsl());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
