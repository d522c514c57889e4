// The app config document `<prefix>/<app>/config`, in exactly the shape of
// docs/config.md. The Lambdas parse it strictly (unknown fields are errors),
// so this file writes only documented fields, and only those that were set:
// the defaults live in one place, the Rust side.

import { Duration, Token } from 'aws-cdk-lib';

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
  /** Both services scale with Application Auto Scaling (a scalable target each). */
  readonly autoscaling?: boolean;
  readonly alertTopicArn?: string;
  /** Share of the serving color's running tasks a color needs healthy before it takes production traffic (0 < f <= 1). */
  readonly minHealthyFraction?: number;
  /** The role each function assumes to act for this app (role ARNs). */
  readonly roles?: AppRoleArns;
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

/** App names become SSM path segments: the Lambdas accept these only. */
export const APP_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The config document, validated as far as synth-time values allow. */
export function appConfigDocument(v: AppConfigValues): Record<string, unknown> {
  if (!Token.isUnresolved(v.app) && !APP_NAME.test(v.app)) {
    throw new Error(`app: \`${v.app}\` is not an app name: use 1 to 64 letters, digits, \`-\`, \`_\` or \`.\``);
  }
  const color = (c: ColorValues, field: string) =>
    compact({ service: c.service, target_group_arn: c.targetGroupArn, direct_url: url(c.directUrl, `${field}.direct_url`) });
  return compact({
    app: v.app,
    cluster: v.cluster,
    blue: color(v.blue, 'blue'),
    green: color(v.green, 'green'),
    production: compact({
      listener_arn: v.production.listenerArn,
      rule_arn: v.production.ruleArn,
      stickiness_seconds: v.production.stickiness && stickiness(v.production.stickiness),
    }),
    test:
      v.test &&
      compact({
        listener_arn: v.test.listenerArn,
        rule_arn: v.test.ruleArn,
        url: url(v.test.url, 'test.url'),
        version_path: v.test.versionPath,
        route_timeout_seconds: v.test.routeTimeout && routeTimeout(v.test.routeTimeout),
      }),
    container: container(v.container),
    deploy_timeout_seconds: v.deployTimeout?.toSeconds(),
    strategy: v.strategy && strategy(v.strategy),
    monitor: v.monitor && monitor(v.monitor),
    warm_window_seconds: v.warmWindow?.toSeconds(),
    idle_capacity_after_window:
      v.idleCapacityAfterWindow === undefined ? undefined : count(v.idleCapacityAfterWindow, 'idle_capacity_after_window', 0, U32_MAX),
    autoscaling: v.autoscaling || undefined,
    alert_topic_arn: v.alertTopicArn,
    min_healthy_fraction: v.minHealthyFraction === undefined ? undefined : healthyFraction(v.minHealthyFraction),
    roles: v.roles && {
      deploy_idle: v.roles.deployIdle,
      smoke_test: v.roles.smokeTest,
      switch: v.roles.switch,
      monitor: v.roles.monitor,
      rollback: v.roles.rollback,
    },
  });
}

function healthyFraction(f: number): number {
  if (!(f > 0 && f <= 1)) {
    throw new Error(`min_healthy_fraction: ${f} is not a fraction above 0 and at most 1`);
  }
  return f;
}

function strategy(s: Strategy): Record<string, unknown> {
  if (s.type === 'weighted') {
    s.steps.forEach((w, i) => {
      if (!Number.isInteger(w) || w < 1 || w > 100) {
        throw new Error(`strategy.steps[${i}]: ${w} is not a weight between 1 and 100`);
      }
      if (i > 0 && w <= s.steps[i - 1]) {
        throw new Error(`strategy.steps[${i}]: steps must increase, but ${w} follows ${s.steps[i - 1]}`);
      }
    });
    if (s.steps[s.steps.length - 1] !== 100) {
      throw new Error('strategy.steps: the last step must be 100');
    }
  }
  // As the Lambdas refuse it: a bake is watched in Lambda slices under the
  // app's lock, at most a day per step.
  const bake = s.bake?.toSeconds();
  if (bake !== undefined && bake > 86_400) {
    throw new Error(`strategy.bake_seconds: ${bake} s is longer than a day (86400 s): bake each step for at most a day`);
  }
  return compact({
    type: s.type,
    steps: s.type === 'weighted' ? s.steps : undefined,
    bake_seconds: s.bake?.toSeconds(),
  });
}

function monitor(m: MonitorThresholds): Record<string, unknown> {
  if (m.max5xxRate !== undefined && !(m.max5xxRate >= 0 && m.max5xxRate <= 1)) {
    throw new Error(`monitor.max_5xx_rate: ${m.max5xxRate} is not a fraction between 0 and 1`);
  }
  if (m.maxP99Regression !== undefined && !(Number.isFinite(m.maxP99Regression) && m.maxP99Regression > 0)) {
    throw new Error(`monitor.max_p99_regression: ${m.maxP99Regression} is not a ratio above 0`);
  }
  const probeTimeout = m.probeTimeout?.toMilliseconds();
  if (probeTimeout === 0) throw new Error('monitor.probe_timeout_ms: 0 would time out every probe');
  if (probeTimeout !== undefined && probeTimeout > 10_000) {
    throw new Error(`monitor.probe_timeout_ms: ${probeTimeout} is over 10000 (a probe round must fit its interval)`);
  }
  const interval = m.probeInterval?.toSeconds();
  if (interval !== undefined && !(interval >= 1 && interval <= 60)) {
    throw new Error(`monitor.probe_interval_seconds: ${interval} is not between 1 and 60`);
  }
  const slice = m.slice?.toSeconds();
  if (slice !== undefined && !(slice >= 1 && slice <= 840)) {
    throw new Error(`monitor.slice_seconds: ${slice} is not between 1 and 840 (the function's timeout is 900 s)`);
  }
  const p99 = m.maxP99?.toMilliseconds();
  const p50 = m.maxP50?.toMilliseconds();
  const p95 = m.maxP95?.toMilliseconds();
  if (p50 === 0) throw new Error('monitor.max_p50_ms: 0 would fail every request');
  if (p95 === 0) throw new Error('monitor.max_p95_ms: 0 would fail every request');
  if (p50 !== undefined && p95 !== undefined && p50 > p95) {
    throw new Error(`monitor.max_p50_ms: ${p50} is above max_p95_ms ${p95}`);
  }
  // An unset max_p99_ms is the Lambdas' default, 1000, and p95 is held to it all the same.
  if (p95 !== undefined && p95 > (p99 ?? 1000)) {
    throw new Error(`monitor.max_p95_ms: ${p95} is above max_p99_ms ${p99 ?? '1000 (the default)'}`);
  }
  return compact({
    max_5xx_rate: m.max5xxRate,
    max_p99_ms: p99,
    max_p50_ms: p50,
    max_p95_ms: p95,
    checks: m.checks && metricChecks(m.checks, 'monitor.checks'),
    min_requests: m.minRequests === undefined ? undefined : count(m.minRequests, 'monitor.min_requests'),
    alarm_names: m.alarmNames,
    probe_url: url(m.probeUrl, 'monitor.probe_url'),
    expected_version_marker: m.expectedVersionMarker,
    probe_requests:
      m.probeRequests === undefined ? undefined : count(m.probeRequests, 'monitor.probe_requests', 1, 100),
    probe_timeout_ms: probeTimeout,
    probe_interval_seconds: interval,
    slice_seconds: slice,
    version_timeout_seconds: m.versionTimeout?.toSeconds(),
    compare_with_previous: m.compareWithPrevious,
    max_p99_regression: m.maxP99Regression,
    version_header: m.versionHeader,
    version_json_path: m.versionJsonPath,
    metrics_delay_seconds: m.metricsDelay?.toSeconds(),
    max_failed_reads:
      m.maxFailedReads === undefined ? undefined : count(m.maxFailedReads, 'monitor.max_failed_reads', 1, 20),
  });
}

/** CloudWatch's statistics a check may name (as `cloudwatch.Stats` writes them). */
const STATISTICS = ['Sum', 'SampleCount', 'Average', 'Minimum', 'Maximum'];
const COLOR_PLACEHOLDER = '{{color}}';

function metricChecks(checks: MetricCheck[], at: string): Record<string, unknown>[] {
  if (checks.length > 10) throw new Error(`${at}: ${checks.length} checks; at most 10`);
  return checks.map((c, i) => {
    const here = `${at}[${i}]`;
    const doc = metricCheck(c, here);
    if (checks.slice(0, i).some((other) => other.name === c.name)) {
      throw new Error(`${here}.name: \`${c.name}\` names two checks`);
    }
    return doc;
  });
}

function metricCheck(c: MetricCheck, at: string): Record<string, unknown> {
  const bad = (field: string, problem: string) => new Error(`${at}.${field}: ${problem}`);
  // Lengths in bytes, as the Lambdas count them; tokens are checked by the Lambdas.
  const resolved = (s: string) => !Token.isUnresolved(s);
  const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
  if (resolved(c.name) && (c.name.trim() === '' || bytes(c.name) > 100)) {
    throw bad('name', 'must be 1 to 100 characters');
  }
  for (const [field, value] of [['namespace', c.namespace], ['metric', c.metric]]) {
    if (resolved(value) && (value.trim() === '' || bytes(value) > 255)) {
      throw bad(field, `\`${value}\` is not 1 to 255 characters`);
    }
  }
  const dimensions = Object.entries(c.dimensions ?? {});
  if (dimensions.length > 30) {
    throw bad('dimensions', `${dimensions.length} dimensions; CloudWatch takes at most 30`);
  }
  for (const [name, value] of dimensions) {
    if ((resolved(name) && name.trim() === '') || (resolved(value) && value.trim() === '')) {
      throw bad(`dimensions.${name}`, 'dimension names and values must not be empty');
    }
    // A token's text never holds `{{`, so a literal part that does is refused.
    if (value.split(COLOR_PLACEHOLDER).join('').includes('{{')) {
      throw bad(`dimensions.${name}`, `\`${value}\`: only ${COLOR_PLACEHOLDER} may be filled in`);
    }
  }
  if (c.statistic !== undefined && !validStatistic(c.statistic)) {
    throw bad(
      'statistic',
      `\`${c.statistic}\` is not Sum, SampleCount, Average, Minimum, Maximum or a percentile such as p95 or p99.9`,
    );
  }
  if (c.floor === undefined && c.ceiling === undefined && c.maxDrop === undefined && c.maxRise === undefined) {
    throw bad('floor', 'a check needs at least one of floor, ceiling, max_drop, max_rise');
  }
  for (const [field, v] of [['floor', c.floor], ['ceiling', c.ceiling]] as const) {
    if (v !== undefined && !Number.isFinite(v)) throw bad(field, 'must be a finite number');
  }
  if (c.floor !== undefined && c.ceiling !== undefined && c.floor > c.ceiling) {
    throw bad('floor', `${c.floor} is above the ceiling ${c.ceiling}`);
  }
  if (c.maxDrop !== undefined && !(c.maxDrop > 0 && c.maxDrop <= 1)) {
    throw bad('max_drop', `${c.maxDrop} is not a fraction above 0 and at most 1`);
  }
  if (c.maxRise !== undefined && !(Number.isFinite(c.maxRise) && c.maxRise > 0)) {
    throw bad('max_rise', `${c.maxRise} is not a fraction above 0`);
  }
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

/** One of STATISTICS, or a percentile `pNN` / `pNN.N` strictly between 0 and 100. */
function validStatistic(s: string): boolean {
  if (STATISTICS.includes(s)) return true;
  const m = /^p(\d+(?:\.\d+)?)$/.exec(s);
  return m !== null && Number(m[1]) > 0 && Number(m[1]) < 100;
}

function container(name: string | undefined): string | undefined {
  if (name !== undefined && !Token.isUnresolved(name) && name.trim() === '') {
    throw new Error('container: must not be empty (leave it out to use the only container)');
  }
  return name;
}

function stickiness(d: Duration): number {
  const s = d.toSeconds();
  if (s < 1 || s > 604_800) {
    throw new Error(`production.stickiness_seconds: ${s} is not between 1 and 604800 (7 days)`);
  }
  return s;
}

const U32_MAX = 4_294_967_295;

function count(n: number, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${field}: ${n} is not a count` + (min > 0 ? ` of at least ${min}` : ''));
  }
  return n;
}

function url(u: string | undefined, field: string): string | undefined {
  if (u !== undefined && !Token.isUnresolved(u) && !/^https?:\/\//.test(u)) {
    throw new Error(`${field}: \`${u}\` is not an http(s) URL`);
  }
  return u;
}

/** Drops unset fields: absent means "the default" to the Lambdas. */
function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The smoke-test function runs at most 5 minutes, tests included. */
function routeTimeout(d: Duration): number {
  const s = d.toSeconds();
  if (s < 1 || s > 240) {
    throw new Error(`test.route_timeout_seconds: ${s} is not between 1 and 240 (the smoke-test function runs at most 5 minutes)`);
  }
  return s;
}
