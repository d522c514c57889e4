// A tiny model of the ASL subset the workflow uses, to walk its paths with
// scripted Lambda answers. It checks the wiring (which state follows which
// answer, which retrier takes which error), not AWS semantics: local mode
// runs the same ASL in the emulator.

type States = Record<string, any>;
export interface Asl {
  StartAt: string;
  States: States;
}

/** What a scripted Lambda throws to fail with this `errorType`. */
export class LambdaError extends Error {
  constructor(public readonly errorType: string) {
    super(errorType);
  }
}

/** Answers a Task: the binary it runs and the payload it got. */
export type Lambdas = (binary: string, payload: any) => unknown;

export interface Walk {
  path: string[];
  end: string;
  doc: any;
  /** Each retry, as `<state>: <error>`, in order. */
  retries: string[];
  /** Seconds spent waiting between retries (Wait states are not counted). */
  retryWaitSeconds: number;
}

const EXECUTION_ARN = 'arn:aws:states:us-east-1:123456789012:execution:sm:e1';

export function walk(asl: Asl, lambdas: Lambdas, input: object, maxSteps = 1000): Walk {
  const path: string[] = [];
  const retries: string[] = [];
  let retryWaitSeconds = 0;
  let doc: any = input;
  let name = asl.StartAt;
  for (let step = 0; step < maxSteps; step++) {
    path.push(name);
    const s = asl.States[name];
    switch (s.Type) {
      case 'Pass':
        doc = setAt(doc, s.ResultPath, params(s.Parameters, doc));
        name = s.Next;
        break;
      case 'Task': {
        const binary = s.Resource.split(':function:bluegreen-')[1];
        const payload = s.Parameters ? params(s.Parameters, doc) : doc;
        // Attempts per retrier, counted afresh each time the state is entered;
        // the first retrier whose errors match decides (ASL semantics).
        const attempts: number[] = (s.Retry ?? []).map(() => 0);
        for (;;) {
          try {
            doc = setAt(doc, s.ResultPath, lambdas(binary, payload));
            name = s.Next;
            break;
          } catch (e) {
            const error = e instanceof LambdaError ? e.errorType : 'Error';
            const r = (s.Retry ?? []).findIndex((r: any) => matches(r.ErrorEquals, error));
            if (r >= 0 && attempts[r] < (s.Retry[r].MaxAttempts ?? 3)) {
              const { IntervalSeconds = 1, BackoffRate = 2 } = s.Retry[r];
              retryWaitSeconds += IntervalSeconds * BackoffRate ** attempts[r];
              attempts[r]++;
              retries.push(`${name}: ${error}`);
              continue;
            }
            const c = (s.Catch ?? []).find((c: any) => matches(c.ErrorEquals, error));
            if (!c) return { path, end: `uncaught ${error}`, doc, retries, retryWaitSeconds };
            doc = setAt(doc, c.ResultPath, { Error: error, Cause: String(e) });
            name = c.Next;
            break;
          }
        }
        break;
      }
      case 'Choice': {
        const hit = s.Choices.find((c: any) => holds(c, doc));
        name = hit ? hit.Next : s.Default;
        break;
      }
      case 'Wait':
        name = s.Next;
        break;
      case 'Succeed':
      case 'Fail':
        return { path, end: name, doc, retries, retryWaitSeconds };
      default:
        throw new Error(`state ${name}: type ${s.Type} is not modelled`);
    }
  }
  throw new Error(`no end after ${maxSteps} steps: ${path.slice(-10).join(' → ')}`);
}

/** A Choice rule: the comparisons the workflow uses, and `And`. */
function holds(c: any, doc: any): boolean {
  if (c.And) return c.And.every((r: any) => holds(r, doc));
  const v = at(doc, c.Variable);
  if ('IsPresent' in c) return (v !== undefined) === c.IsPresent;
  if ('BooleanEquals' in c) return v === c.BooleanEquals;
  if ('StringEquals' in c) return v === c.StringEquals;
  throw new Error(`choice rule ${JSON.stringify(c)} is not modelled`);
}

function matches(errorEquals: string[], error: string): boolean {
  return errorEquals.includes(error) || errorEquals.includes('States.ALL');
}

function params(p: Record<string, any>, doc: any): any {
  return Object.fromEntries(
    Object.entries(p).map(([k, v]) => {
      if (!k.endsWith('.$')) return [k, v];
      return [k.slice(0, -2), v === '$$.Execution.Id' ? EXECUTION_ARN : at(doc, v)];
    }),
  );
}

function at(doc: any, jsonPath: string): any {
  return jsonPath === '$' ? doc : jsonPath.slice(2).split('.').reduce((o, k) => o?.[k], doc);
}

function setAt(doc: any, resultPath: string, value: unknown): any {
  const key = resultPath.slice(2);
  if (resultPath.slice(0, 2) !== '$.' || key.includes('.')) {
    throw new Error(`ResultPath ${resultPath} is not modelled`);
  }
  return { ...doc, [key]: value };
}
