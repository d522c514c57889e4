// The deployment workflow: the only orchestration in bluegreen. Each Lambda
// takes the execution document and the workflow stores its answer under its
// own key, so the execution history reads as a story and a console rerun with
// the same input redoes the work safely.
//
// Only ASL features the local emulator executes are used (Task on a Lambda
// ARN, a Lambda invoke waiting for a task token with TimeoutSecondsPath,
// Choice, Wait with Seconds/SecondsPath, Pass with Parameters, Retry, Catch,
// Fail, Succeed, ResultPath): the checked-in state-machine.asl.json runs
// unchanged in local mode.

import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';

export interface WorkflowFunctions {
  readonly deployIdle: lambda.IFunction;
  readonly smokeTest: lambda.IFunction;
  readonly switch: lambda.IFunction;
  readonly monitor: lambda.IFunction;
  readonly rollback: lambda.IFunction;
}

/**
 * Errors worth another try: the Lambdas' own `Throttled`/`Transient` error
 * types (AWS throttling and transient failures they met) and the Lambda
 * service's errors. Everything else is final and goes to a `Catch`.
 */
export const RETRYABLE_ERRORS = [
  'Throttled',
  'Transient',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

const ALL = [sfn.Errors.ALL];

/** The retrier of every task: 2 s, 4 s, 8 s, 16 s. */
export const GENERIC_RETRY: sfn.RetryProps = {
  errors: RETRYABLE_ERRORS,
  interval: Duration.seconds(2),
  maxAttempts: 4,
  backoffRate: 2,
};

/**
 * The rollback Lambda answers `PreviousColorCold` while the previous color
 * lacks healthy targets (after the warm window it has just scaled that color
 * up): the workflow waits for it and asks again, every 20 s for 3 minutes,
 * which covers a Fargate service starting and passing its health checks.
 */
export const PREVIOUS_COLOR_COLD_RETRY: sfn.RetryProps = {
  errors: ['PreviousColorCold'],
  interval: Duration.seconds(20),
  maxAttempts: 9,
  backoffRate: 1,
};

/**
 * How long the contract migration waits after announcing itself before its
 * task starts: the rollback function's timeout (3 minutes, see switcher.ts)
 * and a margin. A test keeps the two in step.
 */
export const CONTRACT_SETTLE_SECONDS = 200;

/**
 * Builds the workflow's states under `scope` and returns the first one.
 * `pollInterval` is the pause between two readiness checks of the idle color.
 */
export function deploymentWorkflow(
  scope: Construct,
  fns: WorkflowFunctions,
  pollInterval: Duration,
): sfn.IChainable {
  const states = new Construct(scope, 'States');

  // payloadResponseOnly: the Task's Resource is the function ARN and its result
  // is the Lambda's own JSON, so `$.deploy.already_live` and friends need no
  // `.Payload` unwrapping. The default service-exception retry is replaced by
  // one retrier that also covers the Lambdas' own transient errors.
  // `retries` come before the generic retrier: Step Functions uses the
  // first retrier whose errors match.
  const invoke = (
    id: string,
    fn: lambda.IFunction,
    resultPath: string,
    payload?: object,
    retries: sfn.RetryProps[] = [],
  ) => {
    const task = tasks.LambdaInvoke.jsonPath(states, id, {
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: payload && sfn.TaskInput.fromObject(payload),
      resultPath,
    });
    for (const retry of retries) task.addRetry(retry);
    return task.addRetry(GENERIC_RETRY);
  };
  // deploy-idle's other phases take the document wrapped as {phase, input}.
  const deployIdlePhase = (id: string, phase: string, resultPath: string, extra: object = {}) =>
    invoke(id, fns.deployIdle, resultPath, { phase, input: sfn.JsonPath.entirePayload, ...extra });
  const fail = (id: string, cause: string) => new sfn.Fail(states, id, { error: id, cause });

  // Terminal states.
  const refused = fail('Refused', 'another deployment of this app holds the lock; see $.error');
  const aborted = fail('Aborted', 'failed before any traffic moved; traffic untouched; see $.error');
  const rolledBack = fail('RolledBack', 'release rolled back; see $.rollback');
  const rollbackFailed = fail(
    'RollbackFailed',
    'rollback failed, so production may still serve the release: see $.rollback_error and roll back ' +
      'through the emergency topic; the alert topic was told (see $.rollback_alert, or ' +
      '$.rollback_alert_error if that failed too)',
  );
  const scaleDownFailed = fail(
    'ScaleDownFailed',
    'the release is live, but scaling the previous color down failed; see $.scale_down_error',
  );
  const releaseLockFailed = fail(
    'ReleaseLockFailed',
    'the lock could not be released; it is reclaimable now that this execution has ended ' +
      '(after a promotion the previous color also stays at full size); see $.release_lock_error',
  );
  const contractFailed = fail(
    'ContractFailed',
    'the release is live, but its contract migration failed: the previous color stays warm and ' +
      'the schema is not contracted; see $.contract_error (people were alerted), fix it and run ' +
      '`bluegreen migrate contract --app <app>`',
  );
  const nothingToDo = new sfn.Succeed(states, 'NothingToDo', {
    comment: 'the release already serves all production traffic',
  });
  const released = new sfn.Succeed(states, 'Released');

  // After a failed release (aborted, or rolled back) and its lock given
  // back: its color keeps its tasks for people to look at through the app's
  // grace period (`failed_color_grace_seconds`, which deploy-idle put in
  // `$.deploy`), then goes back to the idle capacity by the scale-down's
  // rules (never a color with production weight, nor one a newer release
  // took). Without `$.deploy` deploy-idle changed nothing: the execution
  // ends at once. The ending is the same either way: `RolledBack` when the
  // rollback ran, else `Aborted`. The CLI stops following at
  // `FailedColorGrace`: the release's fate is settled there.
  const failedHow = new sfn.Choice(states, 'FailedHow?')
    .when(sfn.Condition.isPresent('$.rollback'), rolledBack)
    .otherwise(aborted);
  const scaleBack = deployIdlePhase('ScaleBackFailed', 'scale-back', '$.scale_back');
  scaleBack.addCatch(failedHow, { errors: ALL, resultPath: '$.scale_back_error' });
  scaleBack.next(failedHow);
  const afterFailure = new sfn.Choice(states, 'ScaleBackLater?')
    .when(
      sfn.Condition.isPresent('$.deploy.failed_grace_seconds'),
      new sfn.Wait(states, 'FailedColorGrace', {
        time: sfn.WaitTime.secondsPath('$.deploy.failed_grace_seconds'),
      }).next(scaleBack),
    )
    .otherwise(failedHow);

  // Abort: nothing moved, so what the release took is given back (the
  // scalable targets' bounds of an app that autoscales, then the lock); the
  // execution is `Aborted` whether or not that works (a dead execution's lock
  // is reclaimable).
  const abort = deployIdlePhase('Abort', 'abort', '$.release_lock');
  abort.addCatch(aborted, { errors: ALL, resultPath: '$.release_lock_error' });
  abort.next(afterFailure);

  // Rollback: the rollback Lambda leaves traffic alone if this release never
  // got any, so every failure after the smoke test can go here.
  // A cold previous color is retried (see PREVIOUS_COLOR_COLD_RETRY).
  const rollback = invoke('Rollback', fns.rollback, '$.rollback', undefined, [PREVIOUS_COLOR_COLD_RETRY]);
  const releaseAfterRollback = deployIdlePhase('ReleaseLockAfterRollback', 'release', '$.release_lock');
  releaseAfterRollback.addCatch(rolledBack, { errors: ALL, resultPath: '$.release_lock_error' });
  const releaseAfterFailedRollback = deployIdlePhase(
    'ReleaseLockAfterFailedRollback',
    'release',
    '$.release_lock',
  );
  releaseAfterFailedRollback.addCatch(rollbackFailed, {
    errors: ALL,
    resultPath: '$.release_lock_error',
  });
  releaseAfterFailedRollback.next(rollbackFailed);
  // A failed rollback may leave production on a bad release: people hear of
  // it (the rollback Lambda publishes to the app's alert topic) before the
  // lock goes. Whether or not the alert goes out, the lock is released.
  const alertRollbackFailed = invoke('AlertRollbackFailed', fns.rollback, '$.rollback_alert', {
    rollback_failed: sfn.JsonPath.entirePayload,
  });
  alertRollbackFailed.addCatch(releaseAfterFailedRollback, {
    errors: ALL,
    resultPath: '$.rollback_alert_error',
  });
  alertRollbackFailed.next(releaseAfterFailedRollback);
  rollback.addCatch(alertRollbackFailed, { errors: ALL, resultPath: '$.rollback_error' });
  rollback.next(releaseAfterRollback).next(afterFailure);

  // Done: give the lock back at once so the next release may start, keep the
  // previous color warm for instant rollback, then scale it down.
  const releaseLock = deployIdlePhase('ReleaseLock', 'release', '$.release_lock');
  releaseLock.addCatch(releaseLockFailed, { errors: ALL, resultPath: '$.release_lock_error' });
  const scaleDown = deployIdlePhase('ScaleDown', 'scale-down', '$.scale_down');
  scaleDown.addCatch(scaleDownFailed, { errors: ALL, resultPath: '$.scale_down_error' });
  // The contract migration (an app with `migrations.contract`; the others
  // pass straight on): once the warm window is over no rollback to the
  // previous release remains. It runs as a one-off ECS task; the workflow
  // waits between looks as long as deploy-idle says (no Lambda waits). A failure leaves the release
  // live and the previous color warm (no scale-down); people are alerted.
  // `settle_seconds`: how long a rollback may run (the rollback function's
  // timeout and a margin). The contract announces itself (rollbacks are
  // refused from then on) and starts its task only that long after, so that
  // no rollback that read the records before can still move traffic.
  const contract = deployIdlePhase('Contract', 'contract', '$.contract', {
    settle_seconds: CONTRACT_SETTLE_SECONDS,
  });
  contract.addCatch(contractFailed, { errors: ALL, resultPath: '$.contract_error' });
  const waitForContract = new sfn.Wait(states, 'WaitForContract', {
    time: sfn.WaitTime.secondsPath('$.contract.wait_seconds'),
  });
  waitForContract.next(contract);
  releaseLock
    .next(
      new sfn.Wait(states, 'WarmWindow', {
        time: sfn.WaitTime.secondsPath('$.deploy.warm_window_seconds'),
      }),
    )
    .next(contract)
    .next(
      new sfn.Choice(states, 'Contracting?')
        .when(sfn.Condition.booleanEquals('$.contract.migrating', true), waitForContract)
        .otherwise(scaleDown),
    );
  scaleDown.next(released);

  // Switch one step, then the monitor watches the bake in slices of minutes
  // (probing every few seconds inside the call, which costs less than the
  // state transitions of a polling loop and sees a breach at any minute),
  // then the next step or done. `continue` is the end of a slice: the next
  // call carries on at once with the figures so far.
  const switchStep = invoke('Switch', fns.switch, '$.switch');
  switchStep.addCatch(rollback, { errors: ALL, resultPath: '$.error' });
  const monitor = invoke('Monitor', fns.monitor, '$.monitor');
  monitor.addCatch(rollback, { errors: ALL, resultPath: '$.error' });
  const lastStep = new sfn.Choice(states, 'LastStep?')
    .when(sfn.Condition.booleanEquals('$.switch.done', true), releaseLock)
    .otherwise(switchStep);
  const verdict = new sfn.Choice(states, 'Verdict')
    .when(sfn.Condition.stringEquals('$.monitor.verdict', 'breach'), rollback)
    .when(sfn.Condition.stringEquals('$.monitor.verdict', 'continue'), monitor)
    .when(sfn.Condition.stringEquals('$.monitor.verdict', 'promote'), lastStep)
    .otherwise(rollback);

  // An approval gate: the switch held the step (nothing moved). The switch
  // function records the task token where `bluegreen approve` finds it and
  // the execution waits on it (no Lambda runs meanwhile), bounded by the
  // gate's timeout. Approved: the same step again, now let through.
  // Rejected, or timed out with `on_timeout: abort`: abort while this
  // release has no traffic, roll back once it has some.
  const refusedAtGate = new sfn.Choice(states, 'RefusedAtGate')
    .when(sfn.Condition.booleanEquals('$.switch.traffic_moved', true), rollback)
    .otherwise(abort);
  const promoteUndecided = sfn.Pass.jsonPath(states, 'PromoteUndecided', {
    comment: 'the gate timed out with on_timeout: promote; the step goes on as if approved',
    parameters: {
      decision: 'timed-out',
      'step.$': '$.switch.step',
      'execution_arn.$': '$.execution.arn',
    },
    resultPath: '$.approval',
  });
  promoteUndecided.next(switchStep);
  const timedOutAtGate = new sfn.Choice(states, 'TimedOutAtGate')
    .when(sfn.Condition.stringEquals('$.switch.on_timeout', 'promote'), promoteUndecided)
    .otherwise(refusedAtGate);
  const awaitApproval = tasks.LambdaInvoke.jsonPath(states, 'AwaitApproval', {
    lambdaFunction: fns.switch,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      phase: 'await-approval',
      token: sfn.JsonPath.taskToken,
      input: sfn.JsonPath.entirePayload,
    }),
    taskTimeout: sfn.Timeout.at('$.switch.approval_timeout_seconds'),
    retryOnServiceExceptions: false,
    resultPath: '$.approval',
  });
  awaitApproval.addRetry(GENERIC_RETRY);
  awaitApproval.addCatch(timedOutAtGate, { errors: [sfn.Errors.TIMEOUT], resultPath: '$.error' });
  awaitApproval.addCatch(refusedAtGate, { errors: ALL, resultPath: '$.error' });
  awaitApproval.next(switchStep);
  // A release window (gates.window): outside its hours the switch held the
  // first step and said how long until the window opens; wait that long (no
  // Lambda runs meanwhile) and ask the switch again, which reads the clock
  // anew.
  const waitForWindow = new sfn.Wait(states, 'WaitForWindow', {
    comment: 'outside the release window: wait until it opens, then switch again',
    time: sfn.WaitTime.secondsPath('$.switch.window.wait_seconds'),
  });
  waitForWindow.next(switchStep);
  const gate = new sfn.Choice(states, 'Gate?')
    .when(sfn.Condition.stringEquals('$.switch.gate', 'approval'), awaitApproval)
    .when(sfn.Condition.stringEquals('$.switch.gate', 'window'), waitForWindow)
    .otherwise(monitor);
  switchStep.next(gate);
  monitor.next(verdict);

  // Before traffic moves: any failure aborts.
  const smokeTest = invoke('SmokeTest', fns.smokeTest, '$.smoke');
  smokeTest.addCatch(abort, { errors: ALL, resultPath: '$.error' });
  smokeTest.next(switchStep);

  // Check first, wait only when not ready: a rerun whose idle color is
  // already up (and local mode, where services are ready at once) goes
  // straight on. Deploy-idle's check fails once its deadline has passed.
  const checkIdle = deployIdlePhase('CheckIdle', 'check', '$.ready');
  checkIdle.addCatch(abort, { errors: ALL, resultPath: '$.error' });
  const waitForIdle = new sfn.Wait(states, 'WaitForIdle', {
    time: sfn.WaitTime.duration(pollInterval),
  });
  checkIdle.next(
    new sfn.Choice(states, 'IdleReady?')
      .when(sfn.Condition.booleanEquals('$.ready.ready', true), smokeTest)
      .otherwise(waitForIdle.next(checkIdle)),
  );

  const releaseLockDone = deployIdlePhase('ReleaseLockDone', 'release', '$.release_lock');
  releaseLockDone.addCatch(releaseLockFailed, { errors: ALL, resultPath: '$.release_lock_error' });
  releaseLockDone.next(nothingToDo);

  const deployIdle = invoke('DeployIdle', fns.deployIdle, '$.deploy');
  // LockHeld: another execution holds the lock. Refuse without releasing it.
  deployIdle.addCatch(refused, { errors: ['LockHeld'], resultPath: '$.error' });
  deployIdle.addCatch(abort, { errors: ALL, resultPath: '$.error' });
  // The expand migration (an app with `migrations.expand`) runs before the
  // idle color is updated: while its one-off task runs, deploy-idle answers
  // `migrating` and is called again after a pause; it updates the idle
  // color once the task has succeeded. A failure aborts (traffic untouched).
  // deploy-idle says how long (soon at first, then less often).
  const waitForExpand = new sfn.Wait(states, 'WaitForExpand', {
    time: sfn.WaitTime.secondsPath('$.deploy.expand.wait_seconds'),
  });
  waitForExpand.next(deployIdle);
  deployIdle.next(
    new sfn.Choice(states, 'AlreadyLive?')
      .when(sfn.Condition.booleanEquals('$.deploy.migrating', true), waitForExpand)
      .when(sfn.Condition.booleanEquals('$.deploy.already_live', true), releaseLockDone)
      .otherwise(checkIdle),
  );

  // The execution ARN goes into the document: it names the lock holder and
  // lets the rollback Lambda tell its caller from a stranger.
  const init = sfn.Pass.jsonPath(states, 'Init', {
    parameters: { arn: sfn.JsonPath.executionId },
    resultPath: '$.execution',
  });
  return init.next(deployIdle);
}

/**
 * One app's workflow: a first state that admits an input naming this app
 * only, then the deployment workflow. An app's deployers may start its state
 * machine; the functions act for the app the input names, so this is what
 * keeps them from releasing (or rolling back) another app through it.
 */
export function appWorkflow(
  scope: Construct,
  app: string,
  fns: WorkflowFunctions,
  pollInterval: Duration,
): sfn.IChainable {
  const guard = new Construct(scope, 'Guard');
  return new sfn.Choice(guard, 'ForApp', { comment: `releases ${app} only` })
    .when(
      sfn.Condition.and(sfn.Condition.isPresent('$.app'), sfn.Condition.stringEquals('$.app', app)),
      deploymentWorkflow(scope, fns, pollInterval),
    )
    .otherwise(
      new sfn.Fail(guard, 'NotThisApp', {
        error: 'WrongApp',
        cause: `this state machine releases ${app} only: start the state machine of the app the input names`,
      }),
    );
}
