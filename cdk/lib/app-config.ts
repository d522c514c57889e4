// The app config document `<prefix>/<app>/config`, in exactly the shape of
// docs/config.md. The Lambdas parse it strictly (unknown fields are errors),
// so this file writes only documented fields, and only those that were set:
// the defaults live in one place, the Rust side. The document is checked
// against the schema the Rust types generate (config-schema.ts); this file
// adds only what a schema cannot say: rules across fields, and that JSON has
// no infinite numbers.

import { Duration, Token } from 'aws-cdk-lib';
import { checkAgainstSchema } from './config-schema';

/** How traffic moves to the new color. */
export type Strategy =
  | { readonly type: 'all-at-once'; readonly bake?: Duration }
  | { readonly type: 'weighted'; readonly steps: number[]; readonly bake?: Duration };

/**
 * Thresholds for the bake after each switch step (`monitor` in the document);
 * unset ones take the Lambdas' defaults.
 */
export interface MonitorThresholds {
  /** Highest tolerated share of target 5xx responses, 0 to 1. @default 0.01 */
  readonly max5xxRate?: number;
  /**
   * Highest tolerated p99 target response time (CloudWatch's and, once 500
   * probes tell it, the probes'; without `maxP50` also their median); whole
   * milliseconds. @default 1 second
   */
  readonly maxP99?: Duration;
  /**
   * Highest tolerated p50 (median) target response time, CloudWatch's and the
   * probes' (once 3 probes tell it); whole milliseconds, above zero, at most
   * `maxP95`. @default none (the probes' median is held to `maxP99`)
   */
  readonly maxP50?: Duration;
  /**
   * Highest tolerated p95 target response time, CloudWatch's and the probes'
   * (once 100 probes tell it); whole milliseconds, above zero, at most
   * `maxP99`. @default none
   */
  readonly maxP95?: Duration;
  /**
   * Checks on any CloudWatch metric the app names (orders per minute,
   * sign-ups, queue depth), judged over the bake's complete metric minutes;
   * at most 10, with unique names. @default none
   */
  readonly checks?: MetricCheck[];
  /** Below this many requests no verdict other than "continue" is given. @default 50 */
  readonly minRequests?: number;
  /** CloudWatch alarms that breach the bake while in ALARM. @default none */
  readonly alarmNames?: string[];
  /** The production URL the monitor probes (http or https). @default no probes */
  readonly probeUrl?: string;
  /**
   * A string the probe expects in the response body or a header once the new
   * version serves; `{{version}}` stands for the release version.
   * @default the release version
   */
  readonly expectedVersionMarker?: string;
  /** Probe requests per probe round, 1 to 100. @default 3 */
  readonly probeRequests?: number;
  /**
   * Time between probe rounds while a bake is watched, 1 to 60 whole seconds:
   * a release that turns bad is seen within this plus `probeTimeout`. @default 5 seconds
   */
  readonly probeInterval?: Duration;
  /**
   * How long one monitor call watches before the next call carries on, 1 to
   * 840 whole seconds (the function's timeout is 15 minutes). @default 14 minutes
   */
  readonly slice?: Duration;
  /** Timeout of one probe request; whole milliseconds, above zero. @default 2 seconds */
  readonly probeTimeout?: Duration;
  /**
   * How long after all traffic moved the probes may still see the old version
   * (the load balancer's change is not immediate) before it is a breach;
   * whole seconds. @default 2 minutes
   */
  readonly versionTimeout?: Duration;
  /** Also compare with the previous color's figures from before the switch. @default false */
  readonly compareWithPrevious?: boolean;
  /**
   * With `compareWithPrevious`: the new p99 may be at most this many times
   * the previous color's; above zero. @default 1.5
   */
  readonly maxP99Regression?: number;
  /**
   * The response header naming the running version, compared whole (never as
   * a substring). @default the JSON body's `version` field or an `X-Version` header
   */
  readonly versionHeader?: string;
  /** The dotted path of the JSON body field naming the running version, e.g. `build.version`. */
  readonly versionJsonPath?: string;
  /**
   * ALB metrics arrive late: a minute is judged only this long after it ended,
   * and a bake is promoted only once the minute covering its end was judged;
   * whole seconds. @default 3 minutes
   */
  readonly metricsDelay?: Duration;
  /**
   * Consecutive reads (about one a minute) whose metrics or alarms could not
   * be read before the bake is a breach (until then it waits), 1 to 20. @default 3
   */
  readonly maxFailedReads?: number;
}

/**
 * A check on a CloudWatch metric the app names (`monitor.checks[]` in the
 * document), judged over the bake's complete metric minutes. It needs at least
 * one of `floor`, `ceiling`, `maxDrop`, `maxRise`.
 */
export interface MetricCheck {
  /** What the PR comment and the timeline call it, e.g. "orders per minute"; 1 to 100 characters, unique among the checks. */
  readonly name: string;
  /** The metric's CloudWatch namespace, e.g. `Shop`; 1 to 255 characters. */
  readonly namespace: string;
  /** The metric's name, e.g. `Orders`; 1 to 255 characters. */
  readonly metric: string;
  /**
   * Dimension name to value, at most 30. `{{color}}` in a value stands for the
   * color judged (the new color during the bake, the previous color for the
   * value before the switch); nothing else may be filled in. @default none
   */
  readonly dimensions?: Record<string, string>;
  /**
   * `Sum` or `SampleCount` (counts: judged per minute, and a minute without
   * data counts 0), `Average`, `Minimum`, `Maximum`, or a percentile such as
   * `p95` or `p99.9` (these wait while there is no data). @default 'Sum'
   */
  readonly statistic?: string;
  /** The value may not fall below this. @default none */
  readonly floor?: number;
  /** The value may not rise above this; at least `floor`. @default none */
  readonly ceiling?: number;
  /**
   * The value may fall at most this fraction below its value in the 5 minutes
   * before the switch (on the previous color): 0.2 is "by no more than 20%";
   * above 0, at most 1. @default none
   */
  readonly maxDrop?: number;
  /**
   * The value may rise at most this fraction above its value in the 5 minutes
   * before the switch (on the previous color): 0.5 is "by no more than 50%";
   * above 0. @default none
   */
  readonly maxRise?: number;
}

/** Everything the document holds, as plain strings (or tokens) and numbers. */
export interface AppConfigValues {
  readonly app: string;
  readonly cluster: string;
  readonly blue: ColorValues;
  readonly green: ColorValues;
  readonly production: { listenerArn: string; ruleArn?: string; stickiness?: Duration };
  readonly test?: {
    listenerArn: string;
    ruleArn?: string;
    url: string;
    /** A path on `url` naming the running version; defaults to the probe URL's path. */
    versionPath?: string;
    /** How long the test route may take to reach the release; whole seconds. */
    routeTimeout?: Duration;
  };
  /** The container whose image a release replaces (several containers only). */
  readonly container?: string;
  /** How long deploy-idle waits for the idle color; whole seconds. */
  readonly deployTimeout?: Duration;
  readonly strategy?: Strategy;
  readonly monitor?: MonitorThresholds;
  readonly warmWindow?: Duration;
  readonly idleCapacityAfterWindow?: number;
  /** How long a failed release's color keeps its tasks before it is scaled back (up to 7 days). @default 1 hour */
  readonly failedColorGrace?: Duration;
  /** The previous color's size through the warm window, in percent of the release's (1 to 100). @default 100 */
  readonly warmCapacityPercent?: number;
  /** Both services scale with Application Auto Scaling (a scalable target each). */
  readonly autoscaling?: boolean;
  readonly alertTopicArn?: string;
  /** Share of the serving color's running tasks a color needs healthy before it takes production traffic (0 < f <= 1). */
  readonly minHealthyFraction?: number;
  /** The role each function assumes to act for this app (role ARNs). */
  readonly roles?: AppRoleArns;
  /** What must happen before traffic moves, beyond the smoke tests (docs/config.md, "Gates"). */
  readonly gates?: Gates;
  /** The team's own checks and chores at fixed points of a release (docs/hooks.md). */
  readonly hooks?: Hook[];
  /** Which events go to the app's chat webhooks (docs/notifications.md). */
  readonly notifications?: Notifications;
  /** Database migrations the expand/contract way, as one-off ECS tasks of the release (docs/migrations.md). */
  readonly migrations?: Migrations;
}

/** `migrations` in the config (docs/migrations.md). */
export interface Migrations {
  /** Runs before the idle color is updated; must only add to the schema. */
  readonly expand?: {
    /** The command the release's container runs instead of its own. */
    readonly command: string[];
    /** The SQL files it applies, for `bluegreen migrations lint --config`. */
    readonly sqlFiles?: string[];
  };
  /** Runs once no rollback to the previous release remains. */
  readonly contract?: {
    readonly command: string[];
    /** `warm-window-end` (the default) or `manual` (`bluegreen migrate contract`). */
    readonly when?: 'warm-window-end' | 'manual';
  };
  /** How long one migration task may run, 10 s to 6 h. @default 15 minutes */
  readonly timeout?: Duration;
}

/**
 * Chat notifications (`notifications` in the config). The webhooks' URLs are
 * credentials: put them in the SecureStrings `<prefix>/<app>/slack-webhook-url`
 * and `<prefix>/<app>/webhook-url` yourself; they are never in the config.
 */
export interface Notifications {
  /** Post to a Slack-compatible incoming webhook. @default false */
  readonly slack?: boolean;
  /** Post JSON to a generic webhook (signed when the app has a hooks secret). @default false */
  readonly webhook?: boolean;
  /** The events sent. @default all of them */
  readonly events?: Array<'started' | 'waiting' | 'promoted' | 'aborted' | 'rolled-back' | 'rollback-failed' | 'attention'>;
}

/**
 * A lifecycle hook (`hooks[]` in the config): an HTTP endpoint that gets a
 * signed POST, or a Lambda function invoked with the same JSON.
 */
export interface Hook {
  readonly at: 'after-deploy' | 'before-switch' | 'after-step' | 'after-promote' | 'on-rollback';
  /** An http(s) URL; give this or `functionArn`. */
  readonly url?: string;
  /** A Lambda function's ARN; the functions acting for the app may invoke it. */
  readonly functionArn?: string;
  /** 1 to 60 s, whole seconds. @default 10 seconds */
  readonly timeout?: Duration;
  /** `fail` aborts (before traffic moved) or rolls back (after); `continue` only reports. @default 'fail' */
  readonly onFailure?: 'fail' | 'continue';
}

/** `gates` in the config. */
export interface Gates {
  /**
   * A person approves (`bluegreen approve`) before the first switch, and
   * before the steps reaching `beforeWeights`; undecided after `timeout`
   * (default 24 h, whole seconds), the release aborts (or rolls back), or goes
   * on with `onTimeout: 'promote'`.
   */
  readonly approval?: {
    readonly beforeWeights?: number[];
    readonly timeout?: Duration;
    readonly onTimeout?: 'abort' | 'promote';
  };
  /**
   * The hours in which a release may start taking production traffic, in an
   * IANA `timeZone`; outside them it waits before its first switch. `from`
   * later than `to` crosses midnight; `days` empty means every day.
   */
  readonly window?: {
    readonly timeZone: string;
    readonly days?: Array<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun'>;
    /** `HH:MM`, local time. */
    readonly from: string;
    readonly to: string;
  };
}

/** The role ARN each shared function assumes for one app (`roles` in the config). */
export interface AppRoleArns {
  readonly deployIdle: string;
  readonly smokeTest: string;
  readonly switch: string;
  readonly monitor: string;
  readonly rollback: string;
}

export interface ColorValues {
  readonly service: string;
  readonly targetGroupArn: string;
  readonly directUrl?: string;
}

/** App names become SSM path segments: the Lambdas accept these only (the schema's pattern). */
export { APP_NAME } from './config-schema';

/** The config document, validated as far as synth-time values allow. */
export function appConfigDocument(v: AppConfigValues): Record<string, unknown> {
  const color = (c: ColorValues) => compact({ service: c.service, target_group_arn: c.targetGroupArn, direct_url: c.directUrl });
  const doc = compact({
    app: v.app,
    cluster: v.cluster,
    blue: color(v.blue),
    green: color(v.green),
    production: compact({
      listener_arn: v.production.listenerArn,
      rule_arn: v.production.ruleArn,
      stickiness_seconds: v.production.stickiness?.toSeconds(),
    }),
    test:
      v.test &&
      compact({
        listener_arn: v.test.listenerArn,
        rule_arn: v.test.ruleArn,
        url: v.test.url,
        version_path: v.test.versionPath,
        route_timeout_seconds: v.test.routeTimeout?.toSeconds(),
      }),
    container: v.container,
    deploy_timeout_seconds: v.deployTimeout?.toSeconds(),
    strategy: v.strategy && strategy(v.strategy),
    monitor: v.monitor && monitor(v.monitor),
    warm_window_seconds: v.warmWindow?.toSeconds(),
    idle_capacity_after_window: v.idleCapacityAfterWindow,
    failed_color_grace_seconds: v.failedColorGrace?.toSeconds(),
    warm_capacity_percent: v.warmCapacityPercent,
    autoscaling: v.autoscaling || undefined,
    alert_topic_arn: v.alertTopicArn,
    min_healthy_fraction: v.minHealthyFraction,
    roles: v.roles && {
      deploy_idle: v.roles.deployIdle,
      smoke_test: v.roles.smokeTest,
      switch: v.roles.switch,
      monitor: v.roles.monitor,
      rollback: v.roles.rollback,
    },
    gates:
      v.gates &&
      compact({
        approval:
          v.gates.approval &&
          compact({
            before_weights: v.gates.approval.beforeWeights,
            timeout_seconds: v.gates.approval.timeout?.toSeconds(),
            on_timeout: v.gates.approval.onTimeout,
          }),
        window:
          v.gates.window &&
          compact({
            time_zone: v.gates.window.timeZone,
            days: v.gates.window.days,
            from: v.gates.window.from,
            to: v.gates.window.to,
          }),
      }),
    notifications:
      v.notifications &&
      compact({ slack: v.notifications.slack, webhook: v.notifications.webhook, events: v.notifications.events }),
    migrations:
      v.migrations &&
      compact({
        expand: v.migrations.expand && compact({ command: v.migrations.expand.command, sql_files: v.migrations.expand.sqlFiles }),
        contract: v.migrations.contract && compact({ command: v.migrations.contract.command, when: v.migrations.contract.when }),
        timeout_seconds: v.migrations.timeout?.toSeconds(),
      }),
    hooks: v.hooks?.map((h) =>
      compact({
        at: h.at,
        url: h.url,
        function_arn: h.functionArn,
        timeout_seconds: h.timeout?.toSeconds(),
        on_failure: h.onFailure,
      }),
    ),
  });
  finiteNumbers(doc, '');
  checkAgainstSchema(doc);
  acrossFields(doc as Document);
  return doc;
}

/** JSON has no infinite or NaN numbers (`JSON.stringify` would write null). */
function finiteNumbers(value: unknown, at: string): void {
  if (typeof value === 'number' && !Token.isUnresolved(value) && !Number.isFinite(value)) {
    throw new Error(`${at}: ${value} is not a finite number`);
  }
  if (Array.isArray(value)) value.forEach((v, i) => finiteNumbers(v, `${at}[${i}]`));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) finiteNumbers(v, at ? `${at}.${k}` : k);
  }
}

/** The parts of the document the rules across fields read. */
interface Document {
  strategy?: { steps?: number[] };
  monitor?: {
    max_p50_ms?: number;
    max_p95_ms?: number;
    max_p99_ms?: number;
    checks?: { name: string; dimensions?: Record<string, string>; statistic?: string; floor?: number; ceiling?: number; max_drop?: number; max_rise?: number }[];
  };
}

const COLOR_PLACEHOLDER = '{{color}}';

/**
 * What the schema cannot say, as the Lambdas' `validate` says it: steps in
 * order, percentiles that compare, a check's limits and names. Run after the
 * schema, so a value out of range is named before an order it breaks.
 */
function acrossFields(doc: Document): void {
  const steps = doc.strategy?.steps;
  if (steps) {
    steps.forEach((w, i) => {
      if (i > 0 && w <= steps[i - 1]) {
        throw new Error(`strategy.steps[${i}]: steps must increase, but ${w} follows ${steps[i - 1]}`);
      }
    });
    if (steps[steps.length - 1] !== 100) throw new Error('strategy.steps: the last step must be 100');
  }
  const m = doc.monitor ?? {};
  const { max_p50_ms: p50, max_p95_ms: p95, max_p99_ms: p99 } = m;
  if (p50 !== undefined && p95 !== undefined && p50 > p95) {
    throw new Error(`monitor.max_p50_ms: ${p50} is above max_p95_ms ${p95}`);
  }
  // An unset max_p99_ms is the Lambdas' default, 1000, and p95 is held to it all the same.
  if (p95 !== undefined && p95 > (p99 ?? 1000)) {
    throw new Error(`monitor.max_p95_ms: ${p95} is above max_p99_ms ${p99 ?? '1000 (the default)'}`);
  }
  (m.checks ?? []).forEach((c, i) => {
    const bad = (field: string, problem: string) => new Error(`monitor.checks[${i}].${field}: ${problem}`);
    for (const [name, value] of Object.entries(c.dimensions ?? {})) {
      // A token's text never holds `{{`, so a literal part that does is refused.
      if (value.split(COLOR_PLACEHOLDER).join('').includes('{{')) {
        throw bad('dimensions', `\`${name}\` is \`${value}\`: only ${COLOR_PLACEHOLDER} may be filled in`);
      }
    }
    // The schema's pattern takes any `p<number>`; its range is a rule of its own.
    const percentile = c.statistic?.startsWith('p') ? Number(c.statistic.slice(1)) : undefined;
    if (percentile !== undefined && !(percentile > 0 && percentile < 100)) {
      throw bad('statistic', `\`${c.statistic}\` is not a percentile between p0 and p100`);
    }
    if (c.floor === undefined && c.ceiling === undefined && c.max_drop === undefined && c.max_rise === undefined) {
      throw bad('floor', 'a check needs at least one of floor, ceiling, max_drop, max_rise');
    }
    if (c.floor !== undefined && c.ceiling !== undefined && c.floor > c.ceiling) {
      throw bad('floor', `${c.floor} is above the ceiling ${c.ceiling}`);
    }
    if (m.checks!.slice(0, i).some((other) => other.name === c.name)) {
      throw bad('name', `\`${c.name}\` names two checks`);
    }
  });
}

function strategy(s: Strategy): Record<string, unknown> {
  return compact({
    type: s.type,
    steps: s.type === 'weighted' ? s.steps : undefined,
    bake_seconds: s.bake?.toSeconds(),
  });
}

function monitor(m: MonitorThresholds): Record<string, unknown> {
  return compact({
    max_5xx_rate: m.max5xxRate,
    max_p99_ms: m.maxP99?.toMilliseconds(),
    max_p50_ms: m.maxP50?.toMilliseconds(),
    max_p95_ms: m.maxP95?.toMilliseconds(),
    checks: m.checks?.map(metricCheck),
    min_requests: m.minRequests,
    alarm_names: m.alarmNames,
    probe_url: m.probeUrl,
    expected_version_marker: m.expectedVersionMarker,
    probe_requests: m.probeRequests,
    probe_timeout_ms: m.probeTimeout?.toMilliseconds(),
    probe_interval_seconds: m.probeInterval?.toSeconds(),
    slice_seconds: m.slice?.toSeconds(),
    version_timeout_seconds: m.versionTimeout?.toSeconds(),
    compare_with_previous: m.compareWithPrevious,
    max_p99_regression: m.maxP99Regression,
    version_header: m.versionHeader,
    version_json_path: m.versionJsonPath,
    metrics_delay_seconds: m.metricsDelay?.toSeconds(),
    max_failed_reads: m.maxFailedReads,
  });
}

function metricCheck(c: MetricCheck): Record<string, unknown> {
  return compact({
    name: c.name,
    namespace: c.namespace,
    metric: c.metric,
    dimensions: c.dimensions && { ...c.dimensions },
    statistic: c.statistic,
    floor: c.floor,
    ceiling: c.ceiling,
    max_drop: c.maxDrop,
    max_rise: c.maxRise,
  });
}

/** Drops unset fields: absent means "the default" to the Lambdas. */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
