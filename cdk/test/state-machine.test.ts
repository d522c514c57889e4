// The workflow's ASL: drift against the checked-in file, retries and catches
// on every task, and its paths walked with scripted Lambda answers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { exampleTemplate, resolveDefinition } from '../lib/asl';
import { RETRYABLE_ERRORS } from '../lib/state-machine';
import { Asl, LambdaError, Lambdas, Walk, walk } from './walk';

const asl = resolveDefinition(exampleTemplate()) as Asl;
const tasks = Object.entries(asl.States).filter(([, s]) => s.Type === 'Task');

test('state-machine.asl.json is what the construct synthesizes', () => {
  const file = path.join(__dirname, '..', 'state-machine.asl.json');
  const checkedIn = readFileSync(file, 'utf8');
  assert.ok(
    checkedIn === JSON.stringify(asl, null, 2) + '\n',
    'cdk/state-machine.asl.json is out of date with the construct: run `npm run export-asl` in cdk/ and commit the result',
  );
});

describe('every Lambda task', () => {
  test('calls a function ARN directly (payloadResponseOnly), but the approval gate', () => {
    assert.equal(tasks.length, 16);
    for (const [name, s] of tasks) {
      if (name === 'AwaitApproval') continue;
      assert.match(s.Resource, /^arn:aws:lambda:us-east-1:123456789012:function:bluegreen-[a-z-]+$/, name);
    }
  });

  test('the approval gate invokes the switch with a task token and waits, bounded by the gate', () => {
    const gate = asl.States.AwaitApproval;
    assert.equal(gate.Resource, 'arn:aws:states:::lambda:invoke.waitForTaskToken');
    assert.match(gate.Parameters.FunctionName, /function:bluegreen-switch$/);
    assert.deepEqual(gate.Parameters.Payload, {
      phase: 'await-approval',
      'token.$': '$$.Task.Token',
      'input.$': '$',
    });
    assert.equal(gate.TimeoutSecondsPath, '$.switch.approval_timeout_seconds');
    assert.equal(gate.Next, 'Switch');
    assert.deepEqual(
      gate.Catch.map((c: any) => [c.ErrorEquals, c.Next]),
      [
        [['States.Timeout'], 'TimedOutAtGate'],
        [['States.ALL'], 'RefusedAtGate'],
      ],
    );
    // Refused or timed out: abort while the release has no traffic, roll back once it has.
    assert.deepEqual(asl.States.RefusedAtGate.Choices, [
      { Variable: '$.switch.traffic_moved', BooleanEquals: true, Next: 'Rollback' },
    ]);
    assert.equal(asl.States.RefusedAtGate.Default, 'Abort');
    assert.equal(asl.States['Gate?'].Default, 'Monitor');
    assert.equal(asl.States.Switch.Next, 'Gate?');
  });

  test('outside the release window: wait as long as the switch says, then ask it again', () => {
    assert.deepEqual(asl.States['Gate?'].Choices[1], {
      Variable: '$.switch.gate',
      StringEquals: 'window',
      Next: 'WaitForWindow',
    });
    const wait = asl.States.WaitForWindow;
    assert.equal(wait.Type, 'Wait');
    assert.equal(wait.SecondsPath, '$.switch.window.wait_seconds');
    assert.equal(wait.Next, 'Switch');
  });

  test('retries throttling and transient errors, 4 attempts from 2 s, backoff 2', () => {
    const generic = { ErrorEquals: RETRYABLE_ERRORS, IntervalSeconds: 2, MaxAttempts: 4, BackoffRate: 2 };
    for (const [name, s] of tasks) {
      // The last retrier; only Rollback has one before it.
      assert.deepEqual(s.Retry.at(-1), generic, name);
      assert.equal(s.Retry.length, name === 'Rollback' ? 2 : 1, name);
      assert.ok(RETRYABLE_ERRORS.includes('Throttled') && RETRYABLE_ERRORS.includes('Transient'));
    }
  });

  test('catches everything, into a state that exists', () => {
    for (const [name, s] of tasks) {
      const all = (s.Catch ?? []).find((c: any) => c.ErrorEquals.includes('States.ALL'));
      assert.ok(all, `${name} has no Catch on States.ALL`);
      for (const c of s.Catch) assert.ok(asl.States[c.Next], `${name} catches into ${c.Next}`);
    }
  });

  test('stores its result under its own key', () => {
    const resultPaths = Object.fromEntries(tasks.map(([name, s]) => [name, s.ResultPath]));
    assert.deepEqual(resultPaths, {
      DeployIdle: '$.deploy',
      CheckIdle: '$.ready',
      SmokeTest: '$.smoke',
      Switch: '$.switch',
      Monitor: '$.monitor',
      Rollback: '$.rollback',
      AlertRollbackFailed: '$.rollback_alert',
      ReleaseLock: '$.release_lock',
      ReleaseLockDone: '$.release_lock',
      ReleaseLockAfterRollback: '$.release_lock',
      ReleaseLockAfterFailedRollback: '$.release_lock',
      ScaleDown: '$.scale_down',
      ScaleBackFailed: '$.scale_back',
      Contract: '$.contract',
      Abort: '$.release_lock',
      AwaitApproval: '$.approval',
    } as Record<string, string>);
  });
});

describe('a rollback that cannot complete', () => {
  test('waits for a cold previous color: every 20 s, 9 times, before the generic retrier', () => {
    assert.deepEqual(asl.States.Rollback.Retry[0], {
      ErrorEquals: ['PreviousColorCold'],
      IntervalSeconds: 20,
      MaxAttempts: 9,
      BackoffRate: 1,
    });
  });

  test('alerts before the lock is released, whatever the alert does', () => {
    const rollback = asl.States.Rollback;
    assert.deepEqual(rollback.Catch, [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.rollback_error', Next: 'AlertRollbackFailed' },
    ]);
    const alert = asl.States.AlertRollbackFailed;
    assert.equal(alert.Resource, rollback.Resource, 'the rollback function alerts');
    assert.deepEqual(alert.Parameters, { 'rollback_failed.$': '$' });
    assert.equal(alert.Next, 'ReleaseLockAfterFailedRollback');
    assert.deepEqual(alert.Catch, [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.rollback_alert_error', Next: 'ReleaseLockAfterFailedRollback' },
    ]);
    assert.equal(asl.States.ReleaseLockAfterFailedRollback.Next, 'RollbackFailed');
    assert.match(asl.States.RollbackFailed.Cause, /\$\.rollback_error.*emergency topic.*\$\.rollback_alert/);
  });
});

test('the warm window waits as long as the document says; the bake is watched, not waited', () => {
  assert.equal(asl.States.Bake, undefined);
  assert.equal(asl.States.Verdict.Choices[1].Next, 'Monitor');
  assert.equal(asl.States.WarmWindow.SecondsPath, '$.deploy.warm_window_seconds');
  assert.equal(asl.States.WaitForIdle.Seconds, 15);
});

test('every state is reachable', () => {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const s = asl.States[name];
    const next = [s.Next, s.Default, ...(s.Choices ?? []).map((c: any) => c.Next), ...(s.Catch ?? []).map((c: any) => c.Next)];
    next.filter(Boolean).forEach(visit);
  };
  visit(asl.StartAt);
  assert.deepEqual([...seen].sort(), Object.keys(asl.States).sort());
});

// Scripted Lambdas: a release that becomes ready after `polls` checks, a
// monitor that watches slices of `sliceSeconds` and promotes once the bake
// and the late metric minute after it (220 s) are covered, and overrides
// per binary/phase.
function lambdas(opts: {
  steps?: number;
  polls?: number;
  bakeSeconds?: number;
  sliceSeconds?: number;
  override?: Record<string, (payload: any) => unknown>;
}): Lambdas {
  const { steps = 1, polls = 8, bakeSeconds = 600, sliceSeconds = 840, override = {} } = opts;
  let checks = 0;
  let step = 0;
  let watched = 0;
  return (binary, payload) => {
    const key = payload.phase
      ? `${binary}:${payload.phase}`
      : payload.rollback_failed
        ? `${binary}:alert`
        : binary;
    if (override[key]) return override[key](payload);
    switch (key) {
      case 'deploy-idle':
        return { already_live: false, migrating: false, warm_window_seconds: 86400, failed_grace_seconds: 3600 };
      case 'deploy-idle:contract':
        return { migrating: false, contracted: false };
      case 'deploy-idle:check':
        return { ready: ++checks >= polls };
      case 'smoke-test':
        return { passed: true };
      case 'rollback:alert':
        return { alerted: true };
      case 'switch':
        step++;
        watched = 0;
        return { step, done: step === steps };
      case 'monitor':
        watched = Math.min(watched + sliceSeconds, bakeSeconds + 220);
        return { verdict: watched >= bakeSeconds + 220 ? 'promote' : 'continue', reasons: [] };
      default:
        return { released: true };
    }
  };
}
const input = { app: 'checkout', release: { version: 'v2', image: 'img:v2' } };
const fails = (errorType: string) => () => {
  throw new LambdaError(errorType);
};

/** A walk of an input for the example app: it passes the app guard, which the paths below leave out. */
function release(l: Lambdas, i: object = input): Walk {
  const w = walk(asl, l, i);
  assert.equal(w.path[0], 'ForApp');
  return { ...w, path: w.path.slice(1) };
}

describe('the app guard', () => {
  test('an input naming another app fails at once, before any function runs', () => {
    for (const other of [{ ...input, app: 'payments' }, { release: input.release }]) {
      const called: string[] = [];
      const w = walk(asl, (binary) => { called.push(binary); return {}; }, other);
      assert.deepEqual(w.path, ['ForApp', 'NotThisApp']);
      assert.deepEqual(called, []);
      assert.equal(asl.States.NotThisApp.Error, 'WrongApp');
    }
  });
});

describe('paths', () => {
  test('all at once with a 10-minute bake: one monitor call', () => {
    const w = release(lambdas({}), input);
    assert.equal(w.end, 'Released');
    assert.equal(w.path.filter((s) => s === 'Monitor').length, 1);
    assert.equal(w.doc.execution.arn, 'arn:aws:states:us-east-1:123456789012:execution:sm:e1');
    assert.deepEqual(w.path.slice(0, 6), ['Init', 'DeployIdle', 'AlreadyLive?', 'CheckIdle', 'IdleReady?', 'WaitForIdle']);
    assert.deepEqual(w.path.slice(-7), [
      'LastStep?',
      'ReleaseLock',
      'WarmWindow',
      'Contract',
      'Contracting?',
      'ScaleDown',
      'Released',
    ]);
  });

  test('an idle color that is ready at once is not waited for', () => {
    const w = release(lambdas({ polls: 1 }), input);
    assert.deepEqual(w.path.slice(3, 6), ['CheckIdle', 'IdleReady?', 'SmokeTest']);
  });

  test('weighted: one switch per step, each baked', () => {
    const w = release(lambdas({ steps: 4, bakeSeconds: 60 }), input);
    assert.equal(w.end, 'Released');
    assert.equal(w.path.filter((s) => s === 'Switch').length, 4);
  });

  test('4 steps with 10-minute bakes: under 40 state transitions (the budget)', () => {
    const w = walk(asl, lambdas({ steps: 4, polls: 1 }), input);
    assert.equal(w.end, 'Released');
    assert.ok(w.path.length < 40, `${w.path.length} transitions: ${w.path.join(' → ')}`);
  });

  test('a slice that ends before the bake is followed at once by the next call', () => {
    const w = release(lambdas({ sliceSeconds: 300 }), input);
    assert.equal(w.end, 'Released');
    const i = w.path.indexOf('Monitor');
    assert.deepEqual(w.path.slice(i, i + 7), ['Monitor', 'Verdict', 'Monitor', 'Verdict', 'Monitor', 'Verdict', 'LastStep?']);
  });

  test('a release already live releases the lock and succeeds', () => {
    const w = release(lambdas({ override: { 'deploy-idle': () => ({ already_live: true }) } }), input);
    assert.deepEqual(w.path, ['Init', 'DeployIdle', 'AlreadyLive?', 'ReleaseLockDone', 'NothingToDo']);
  });

  test('a held lock is refused without releasing it', () => {
    const w = release(lambdas({ override: { 'deploy-idle': fails('LockHeld') } }), input);
    assert.deepEqual(w.path, ['Init', 'DeployIdle', 'Refused']);
  });

  for (const [failing, at] of [
    ['deploy-idle', 'DeployIdle'],
    ['deploy-idle:check', 'CheckIdle'],
    ['smoke-test', 'SmokeTest'],
  ]) {
    test(`${at} failing aborts: lock released, traffic untouched`, () => {
      const w = release(lambdas({ override: { [failing]: fails('SmokeTestFailed') } }), input);
      // deploy-idle ran: its color keeps its tasks through the grace, then is scaled back.
      const after = at === 'DeployIdle' ? ['ScaleBackLater?', 'FailedHow?'] : ['ScaleBackLater?', 'FailedColorGrace', 'ScaleBackFailed', 'FailedHow?'];
      assert.deepEqual(w.path.slice(-(3 + after.length)), [at, 'Abort', ...after, 'Aborted']);
      assert.ok(!w.path.includes('Switch') && !w.path.includes('Rollback'));
      assert.equal(w.doc.error.Error, 'SmokeTestFailed');
    });
  }

  test('aborting calls deploy-idle\'s abort phase (bounds, then lock), and still ends Aborted when it fails', () => {
    const phases: string[] = [];
    const seen = { 'smoke-test': fails('SmokeTestFailed'), 'deploy-idle:abort': () => (phases.push('abort'), { released: true }) };
    assert.deepEqual(release(lambdas({ override: seen }), input).path.slice(-7), ['SmokeTest', 'Abort', 'ScaleBackLater?', 'FailedColorGrace', 'ScaleBackFailed', 'FailedHow?', 'Aborted']);
    assert.deepEqual(phases, ['abort']);
    const override = { 'smoke-test': fails('SmokeTestFailed'), 'deploy-idle:abort': fails('AwsCallFailed') };
    assert.deepEqual(release(lambdas({ override }), input).path.slice(-3), ['SmokeTest', 'Abort', 'Aborted'], 'a failed abort ends at once');
  });

  for (const [failing, at] of [
    ['switch', 'Switch'],
    ['monitor', 'Monitor'],
  ]) {
    test(`${at} failing rolls back`, () => {
      const w = release(lambdas({ override: { [failing]: fails('ReadBackMismatch') } }), input);
      assert.deepEqual(w.path.slice(-8), [at, 'Rollback', 'ReleaseLockAfterRollback', 'ScaleBackLater?', 'FailedColorGrace', 'ScaleBackFailed', 'FailedHow?', 'RolledBack']);
    });
  }

  test('a breach rolls back, and so does a verdict nobody knows', () => {
    for (const verdict of ['breach', 'maybe']) {
      const monitor = () => ({ verdict, reasons: ['5xx 12%'], });
      const w = release(lambdas({ override: { monitor } }), input);
      assert.deepEqual(w.path.slice(-8), ['Verdict', 'Rollback', 'ReleaseLockAfterRollback', 'ScaleBackLater?', 'FailedColorGrace', 'ScaleBackFailed', 'FailedHow?', 'RolledBack'], verdict);
    }
  });

  test('a cold previous color is waited for, and the rollback completes', () => {
    let calls = 0;
    const rollback = () => {
      if (++calls <= 3) throw new LambdaError('PreviousColorCold');
      return { changed: true };
    };
    const w = release(lambdas({ override: { monitor: fails('AwsCallFailed'), rollback } }), input);
    assert.deepEqual(w.path.slice(-8), ['Monitor', 'Rollback', 'ReleaseLockAfterRollback', 'ScaleBackLater?', 'FailedColorGrace', 'ScaleBackFailed', 'FailedHow?', 'RolledBack']);
    assert.deepEqual(w.retries, Array(3).fill('Rollback: PreviousColorCold'));
    assert.equal(w.retryWaitSeconds, 60);
    assert.deepEqual(w.doc.rollback, { changed: true });
  });

  test('a previous color still cold after 3 minutes: alert, release the lock, fail loudly', () => {
    let alerted: any;
    const override = {
      monitor: fails('AwsCallFailed'),
      rollback: fails('PreviousColorCold'),
      'rollback:alert': (payload: any) => {
        alerted = payload;
        return { alerted: true };
      },
    };
    const w = release(lambdas({ override }), input);
    assert.deepEqual(w.path.slice(-4), ['Rollback', 'AlertRollbackFailed', 'ReleaseLockAfterFailedRollback', 'RollbackFailed']);
    assert.equal(w.retries.length, 9);
    assert.equal(w.retryWaitSeconds, 180);
    assert.equal(w.doc.rollback_error.Error, 'PreviousColorCold');
    // The alert gets the whole document, the rollback's error included.
    assert.equal(alerted.rollback_failed.app, 'checkout');
    assert.equal(alerted.rollback_failed.rollback_error.Error, 'PreviousColorCold');
    assert.equal(alerted.rollback_failed.error.Error, 'AwsCallFailed');
    assert.deepEqual(w.doc.rollback_alert, { alerted: true });
  });

  test('a rollback failing otherwise is not retried', () => {
    const override = { monitor: fails('AwsCallFailed'), rollback: fails('Drift') };
    const w = release(lambdas({ override }), input);
    assert.deepEqual(w.retries, []);
    assert.deepEqual(w.path.slice(-4), ['Rollback', 'AlertRollbackFailed', 'ReleaseLockAfterFailedRollback', 'RollbackFailed']);
  });

  test('a failed alert still releases the lock and ends RollbackFailed', () => {
    const override = {
      monitor: fails('AwsCallFailed'),
      rollback: fails('AwsCallFailed'),
      'rollback:alert': fails('AwsCallFailed'),
    };
    const w = release(lambdas({ override }), input);
    assert.deepEqual(w.path.slice(-3), ['AlertRollbackFailed', 'ReleaseLockAfterFailedRollback', 'RollbackFailed']);
    assert.equal(w.doc.rollback_alert_error.Error, 'AwsCallFailed');
    assert.equal(w.doc.release_lock.released, true);
  });

  test('a transient error is retried 4 times, then caught', () => {
    const w = release(lambdas({ override: { 'smoke-test': fails('Transient') } }), input);
    assert.deepEqual(w.retries, Array(4).fill('SmokeTest: Transient'));
    assert.equal(w.retryWaitSeconds, 2 + 4 + 8 + 16);
    assert.deepEqual(w.path.slice(-7), ['SmokeTest', 'Abort', 'ScaleBackLater?', 'FailedColorGrace', 'ScaleBackFailed', 'FailedHow?', 'Aborted']);
  });

  test('a failed release keeps its color through the grace, then scales it back, and ends as it failed', () => {
    const phases: string[] = [];
    const scaleBack = () => (phases.push('scale-back'), { scaled: true });
    const w = release(lambdas({ override: { 'smoke-test': fails('SmokeTestFailed'), 'deploy-idle:scale-back': scaleBack } }), input);
    assert.equal(w.end, 'Aborted');
    assert.deepEqual(phases, ['scale-back']);
    assert.deepEqual(w.doc.scale_back, { scaled: true });
    const grace = asl.States.FailedColorGrace;
    assert.equal(grace.Type, 'Wait');
    assert.equal(grace.SecondsPath, '$.deploy.failed_grace_seconds');
    // A scale-back that fails changes nothing about how the release ended.
    const failing = release(lambdas({ override: { monitor: fails('AwsCallFailed'), 'deploy-idle:scale-back': fails('AwsCallFailed') } }), input);
    assert.equal(failing.end, 'RolledBack');
    assert.equal(failing.doc.scale_back_error.Error, 'AwsCallFailed');
    // Without deploy-idle's answer (it failed) nothing was scaled up: no grace.
    const early = release(lambdas({ override: { 'deploy-idle': fails('BadInput') } }), input);
    assert.ok(!early.path.includes('FailedColorGrace'), early.path.join(' → '));
  });

  test('a failed scale-down is reported, after the release went live', () => {
    const w = release(lambdas({ override: { 'deploy-idle:scale-down': fails('AwsCallFailed') } }), input);
    assert.deepEqual(w.path.slice(-3), ['Contracting?', 'ScaleDown', 'ScaleDownFailed']);
  });

  test('an expand migration is waited for before the idle color is checked', () => {
    let looks = 0;
    const w = release(
      lambdas({
        override: {
          'deploy-idle': () => ({
            already_live: false,
            migrating: ++looks < 3,
            expand: { wait_seconds: 3 },
            warm_window_seconds: 60,
          }),
        },
      }),
      input,
    );
    assert.equal(w.end, 'Released');
    assert.deepEqual(w.path.slice(1, 9), [
      'DeployIdle',
      'AlreadyLive?',
      'WaitForExpand',
      'DeployIdle',
      'AlreadyLive?',
      'WaitForExpand',
      'DeployIdle',
      'AlreadyLive?',
    ]);
    assert.equal(w.path[9], 'CheckIdle');
  });

  test('a failed expand aborts before anything else', () => {
    const w = release(lambdas({ override: { 'deploy-idle': fails('MigrationFailed') } }), input);
    assert.deepEqual(w.path.slice(-5), ['DeployIdle', 'Abort', 'ScaleBackLater?', 'FailedHow?', 'Aborted']);
  });

  test('a contract migration is waited for, then the previous color scaled down', () => {
    let looks = 0;
    const w = release(
      lambdas({
        override: {
          'deploy-idle:contract': () => ({ migrating: ++looks < 2, wait_seconds: 3, contracted: looks >= 2 }),
        },
      }),
      input,
    );
    assert.deepEqual(w.path.slice(-7), [
      'Contract',
      'Contracting?',
      'WaitForContract',
      'Contract',
      'Contracting?',
      'ScaleDown',
      'Released',
    ]);
  });

  test('a failed contract leaves the previous color warm: no scale-down', () => {
    const w = release(lambdas({ override: { 'deploy-idle:contract': fails('MigrationFailed') } }), input);
    assert.deepEqual(w.path.slice(-3), ['WarmWindow', 'Contract', 'ContractFailed']);
    assert.ok(!w.path.includes('ScaleDown'));
  });

  test('a lock that cannot be released ends the execution instead of holding it through the warm window', () => {
    const w = release(lambdas({ override: { 'deploy-idle:release': fails('AwsCallFailed') } }), input);
    assert.deepEqual(w.path.slice(-2), ['ReleaseLock', 'ReleaseLockFailed']);
  });
});
