// The app config document checked against its JSON Schema, the one the Rust
// types generate (`schemas/app-config.schema.json`, `bluegreen schema
// app-config`): the Lambdas' ranges, formats and field names, declared once
// on the Rust side. What a schema cannot say (a rule across fields, such as
// p50 at most p95) is checked in app-config.ts or by the Lambdas.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv, { ErrorObject } from 'ajv';
import { Token } from 'aws-cdk-lib';

/** Where the schemas are: the repository's `schemas/`, beside `cdk/`. */
export const SCHEMA_DIR = path.join(__dirname, '..', '..', 'schemas');

/** The app config's schema, as `bluegreen schema app-config` prints it. */
export const APP_CONFIG_SCHEMA = JSON.parse(readFileSync(path.join(SCHEMA_DIR, 'app-config.schema.json'), 'utf8'));

/** App names become SSM path segments: the Lambdas accept these only. */
export const APP_NAME = new RegExp(APP_CONFIG_SCHEMA.properties.app.pattern);

const ajv = new Ajv({ allErrors: true, discriminator: true, strict: true });
const validateDocument = ajv.compile(APP_CONFIG_SCHEMA);

/**
 * Throws the first thing the schema refuses in `doc`, named by its field
 * (`monitor.probe_requests: 0 must be >= 1`). Values that are tokens are
 * resolved only at deploy time, so what the schema says of them is left to
 * the Lambdas.
 */
export function checkAgainstSchema(doc: Record<string, unknown>): void {
  if (validateDocument(doc)) return;
  const errors = (validateDocument.errors ?? []).filter((e) => !isToken(valueAt(doc, e.instancePath)));
  const first = errors.find((e) => e.keyword !== 'discriminator' && e.keyword !== 'oneOf') ?? errors[0];
  if (first) throw new Error(describe(doc, first));
}

function describe(doc: Record<string, unknown>, e: ErrorObject): string {
  const field = fieldName(e.instancePath) || '(document)';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return `${field === '(document)' ? extra : `${field}.${extra}`}: is not a field of the document`;
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return `${field === '(document)' ? missing : `${field}.${missing}`}: is required`;
  }
  const value = valueAt(doc, e.instancePath);
  const shown =
    typeof value === 'string'
      ? `\`${value}\``
      : Array.isArray(value)
        ? `a list of ${value.length}`
        : value && typeof value === 'object'
          ? `${Object.keys(value).length} entries`
          : JSON.stringify(value);
  return `${field}: ${shown} ${e.message}`;
}

/** A JSON pointer's segments, unescaped (`/a~1b/0` is `a/b`, `0`). */
function segments(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `/monitor/checks/1/max_drop` as the Lambdas name it: `monitor.checks[1].max_drop`. */
function fieldName(pointer: string): string {
  return segments(pointer).reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}

function valueAt(doc: unknown, pointer: string): unknown {
  return segments(pointer).reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], doc);
}

function isToken(value: unknown): boolean {
  return (typeof value === 'string' || typeof value === 'number') && Token.isUnresolved(value);
}
