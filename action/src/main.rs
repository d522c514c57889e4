//! `bluegreen`: what the GitHub Action runs, what operators run, and the
//! local mode. This file only parses arguments and wires the commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bluegreen_action::commands::{self, deploy, gate, rollback, schema, smoke, status, validate};
use bluegreen_action::{ci, github};
use clap::{ArgGroup, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bluegreen",
    version,
    about = "Blue-green deployments for ECS behind an ALB"
)]
struct Cli {
    /// Parameter path all apps live under.
    #[arg(
        long,
        global = true,
        env = "BLUEGREEN_PREFIX",
        default_value = "/bluegreen"
    )]
    prefix: String,
    /// The AWS region to act in (else AWS_REGION, the profile's, …).
    #[arg(long, global = true)]
    region: Option<String>,
    /// The AWS profile whose credentials and region to use (else AWS_PROFILE).
    #[arg(long, global = true)]
    profile: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// `--region` and `--profile`, as given (read once by [`sdk`]).
static AWS_CHOICE: std::sync::OnceLock<(Option<String>, Option<String>)> =
    std::sync::OnceLock::new();

/// The AWS SDK's configuration: the default chain, with `--region` and
/// `--profile` when given.
async fn sdk() -> aws_config::SdkConfig {
    let (region, profile) = AWS_CHOICE.get().cloned().unwrap_or_default();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    loader.load().await
}

#[derive(Subcommand)]
enum MigrationsCommand {
    /// Flag, with file and line, what in an expand migration breaks the old
    /// version that keeps running against the schema: DROP TABLE, DROP
    /// COLUMN, RENAME, a column's type changed, NOT NULL without a default.
    /// Exit 0: nothing found; 1: findings; 2: a file missing or not SQL the
    /// parser reads.
    ///
    /// Example: bluegreen migrations lint --dialect postgres db/expand/*.sql
    ///
    /// In CI, lint what an app's expand declares:
    /// bluegreen migrations lint --config deploy/checkout.json --dialect postgres
    Lint {
        /// The SQL files (one or more statements each).
        #[arg(required_unless_present = "config", value_name = "FILE")]
        files: Vec<PathBuf>,
        /// An app's config (JSON): lint the files its
        /// `migrations.expand.sql_files` declares, relative to the current
        /// directory.
        #[arg(long, value_name = "CONFIG")]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "generic")]
        dialect: bluegreen_action::migrations::lint::SqlDialect,
        /// One JSON object per finding on stdout instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the contract migration of the release that serves the app now,
    /// under the app's lock, and wait for its task: for an app whose config
    /// says `migrations.contract.when: manual`, or to run a failed contract
    /// again. From then on a rollback to the release before is refused
    /// (SchemaContracted). Exit 0: contracted (now or before); 1: the task
    /// failed, or the contract cannot run now (a deployment holds the app,
    /// production is split); 2: bad input (no contract configured); 3: AWS
    /// error, or the task still ran at --timeout-minutes.
    ///
    /// Example: bluegreen migrate contract --app checkout
    Contract {
        #[arg(long, env = "BLUEGREEN_APP")]
        app: String,
        /// Who runs it (recorded with the run; default: $GITHUB_ACTOR or $USER).
        #[arg(long)]
        by: Option<String>,
        /// Stop waiting after this many minutes (the task goes on).
        #[arg(long, default_value_t = 30.0)]
        timeout_minutes: f64,
        /// How long a rollback may run (the switcher's rollback function's
        /// timeout, and a margin): the task starts that long after the
        /// contract is announced, so that no rollback in flight can still
        /// move traffic to the release it retires.
        #[arg(long, default_value_t = bluegreen_core::document::input::DEFAULT_CONTRACT_SETTLE_SECONDS)]
        settle_seconds: u64,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Deploy a release: start the execution, follow it, report how it ended.
    /// Exit 0: live (or started with --no-wait, or waiting at a gate with
    /// --no-wait-for-approval); 1: it did not go live; 2: bad input, nothing
    /// started; 3: cannot tell (AWS could not start or follow it, or
    /// following stopped at --timeout-minutes).
    ///
    /// Example: bluegreen deploy --app checkout --version 3f2c1ab --image 123.dkr.ecr.us-east-1.amazonaws.com/checkout:3f2c1ab
    #[command(group(clap::ArgGroup::new("ships").required(true).multiple(false)))]
    Deploy {
        #[arg(long, env = "BLUEGREEN_APP")]
        app: String,
        /// What the release is called (a commit SHA, a tag).
        #[arg(long)]
        version: String,
        /// The release container's new image, on a revision of what
        /// production runs now. Example: --image 123.dkr.ecr.us-east-1.amazonaws.com/checkout:3f2c1ab
        #[arg(long, group = "ships")]
        image: Option<String>,
        /// Several containers' new images at once, as YAML or JSON
        /// (container: image). Example: --images '{app: checkout:3f2c1ab, envoy: envoy:v1.31}'
        #[arg(long, group = "ships")]
        images: Option<String>,
        /// A task-definition ARN to run as is, or a task-definition JSON file
        /// to register (as amazon-ecs-render-task-definition writes it).
        /// Example: --task-definition task-definition.json
        #[arg(long, group = "ships")]
        task_definition: Option<String>,
        /// Deploy even when this version already serves: the same release on
        /// a fresh revision and fresh tasks, through every step (a restart).
        #[arg(long)]
        redeploy: bool,
        #[arg(long, env = "BLUEGREEN_STATE_MACHINE_ARN")]
        state_machine_arn: String,
        /// A smoke-test spec file (YAML or JSON).
        #[arg(long)]
        smoke_tests: Option<PathBuf>,
        /// Per-release overrides as JSON: {"strategy": ..., "monitor": ...}.
        #[arg(long)]
        overrides: Option<String>,
        /// Start the execution and return without following it.
        #[arg(long)]
        no_wait: bool,
        /// Stop following where the release waits at an approval gate
        /// (result `waiting-approval`, exit 0): the execution waits for
        /// `bluegreen approve`, without holding a CI runner.
        #[arg(long)]
        no_wait_for_approval: bool,
        /// Give up following after this many minutes (fractions allowed): the
        /// execution goes on, the GitHub deployment is marked `error` with
        /// its link, `result` is `following-timed-out` and the exit code 3.
        #[arg(long, default_value_t = 120.0)]
        timeout_minutes: f64,
        /// While a step runs long (a bake), say where the release is at least
        /// this often: step, weight, time into the bake, the latest figures.
        #[arg(long, default_value_t = 30)]
        heartbeat_seconds: u64,
        /// Print one JSON document at the end (execution, result, what serves,
        /// the steps); the step-by-step story goes to stderr.
        #[arg(long)]
        json: bool,
        /// The GitHub Deployments environment (reported only when
        /// GITHUB_TOKEN and GITHUB_REPOSITORY are set).
        #[arg(long, env = "BLUEGREEN_ENVIRONMENT", default_value = "production")]
        environment: String,
        /// Where the app is reachable, shown on a successful deployment.
        #[arg(long, env = "BLUEGREEN_ENVIRONMENT_URL")]
        environment_url: Option<String>,
    },
    /// Move all traffic of an app back to the previous color, now, and print
    /// what the rollback did as JSON. Exit 0: rolled back (or production
    /// already there); 1: refused (nothing to roll back to, the schema was
    /// contracted since, drift); 2: bad input (an unknown app); 3: could not
    /// tell (AWS failed, or the state did not show the rollback in time).
    ///
    /// Example: bluegreen rollback --app checkout --reason "5xx after 3f2c1ab" --function bluegreen-rollback
    Rollback {
        #[arg(long, env = "BLUEGREEN_APP")]
        app: String,
        #[arg(long)]
        reason: String,
        #[arg(long, env = "GITHUB_ACTOR")]
        requested_by: Option<String>,
        /// Publish to this emergency topic...
        #[arg(
            long,
            env = "BLUEGREEN_EMERGENCY_TOPIC_ARN",
            conflicts_with = "function"
        )]
        topic_arn: Option<String>,
        /// ...or invoke this rollback function directly.
        #[arg(long, env = "BLUEGREEN_ROLLBACK_FUNCTION")]
        function: Option<String>,
        /// The GitHub Deployments environment the release was deployed to:
        /// its deployment there is marked failed (only when GITHUB_TOKEN and
        /// GITHUB_REPOSITORY are set).
        #[arg(long, env = "BLUEGREEN_ENVIRONMENT", default_value = "production")]
        environment: String,
        /// The outcome is JSON either way (what the rollback did); the flag
        /// is accepted so that scripts may pass it to every command.
        #[arg(long)]
        json: bool,
    },
    /// Bring GitHub up to date for a release started with `--no-wait` (or
    /// no longer followed): its deployment's status, the pull request's
    /// comment and the job summary, as the execution stands now. Exit 0: the
    /// release is live, waits at a gate or still runs; 1: it did not go live;
    /// 2: not a bluegreen release's execution; 3: AWS or GitHub could not be
    /// asked.
    ///
    /// Example: bluegreen report --execution "$EXECUTION_ARN"
    Report {
        /// The release's execution (the deploy step's `execution-arn` output).
        #[arg(long)]
        execution: String,
        /// The GitHub Deployments environment the release was deployed to.
        #[arg(long, env = "BLUEGREEN_ENVIRONMENT", default_value = "production")]
        environment: String,
        /// Where the app is reachable, shown on a successful deployment.
        #[arg(long, env = "BLUEGREEN_ENVIRONMENT_URL")]
        environment_url: Option<String>,
        /// Print {"app", "version", "outcome", "deployment_id"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Let a release waiting at an approval gate go on (the step it waits
    /// for switches). Exit 0: sent; 1: no release waits (or another
    /// execution than --execution does, or the gate no longer waits); 2: an
    /// unknown app; 3: AWS could not be asked.
    ///
    /// Example: bluegreen approve --app checkout --by "$GITHUB_ACTOR"
    Approve {
        #[arg(long, env = "BLUEGREEN_APP")]
        app: String,
        /// The execution meant; refused when another one waits.
        #[arg(long)]
        execution: Option<String>,
        /// Who decides (recorded in the execution).
        #[arg(long, env = "GITHUB_ACTOR")]
        by: Option<String>,
        /// Print the outcome as one JSON document on stdout (an error as
        /// {"error", "exit_code"}).
        #[arg(long)]
        json: bool,
    },
    /// Refuse a release waiting at an approval gate: it aborts (traffic
    /// untouched, lock released), or rolls back if it already has traffic.
    /// Exit codes as for approve.
    ///
    /// Example: bluegreen reject --app checkout --reason "release freeze"
    Reject {
        #[arg(long, env = "BLUEGREEN_APP")]
        app: String,
        /// Why (recorded in the execution and the pull request's comment).
        #[arg(long)]
        reason: String,
        /// The execution meant; refused when another one waits.
        #[arg(long)]
        execution: Option<String>,
        /// Who decides (recorded in the execution).
        #[arg(long, env = "GITHUB_ACTOR")]
        by: Option<String>,
        /// Print the outcome as one JSON document on stdout (an error as
        /// {"error", "exit_code"}).
        #[arg(long)]
        json: bool,
    },
    /// What serves an app: colors, versions, weights, lock, tasks, schema;
    /// without --app, one line for every app under the prefix. Exit 0: told;
    /// 2: an unknown app; 3: AWS could not be asked.
    ///
    /// Example: bluegreen status --app checkout --json
    Status {
        #[arg(long, env = "BLUEGREEN_APP")]
        app: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Record what really serves an app (the load balancer's active color,
    /// the task definition ECS runs on each color) after traffic was moved by
    /// hand or a state write was lost. Exit 0: recorded (or already so); 1:
    /// refused (a deployment runs, production is split); 2: an unknown app;
    /// 3: AWS could not be asked.
    ///
    /// Example: bluegreen reconcile --app checkout
    Reconcile {
        #[arg(long, env = "BLUEGREEN_APP")]
        app: String,
        /// Print the outcome as one JSON document on stdout (an error as
        /// {"error", "exit_code"}).
        #[arg(long)]
        json: bool,
    },
    /// Run a smoke-test spec from this machine against a URL, with the
    /// smoke-test Lambda's runner. Exit 0: all passed; 1: a check failed;
    /// 2: bad input.
    ///
    /// Example: bluegreen smoke --spec smoke-tests.yml --base-url https://test.checkout.example.com
    Smoke {
        /// The spec (YAML or JSON).
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
        /// What `{{base_url}}` stands for.
        #[arg(long, value_name = "URL")]
        base_url: String,
        /// What `{{version}}` stands for.
        #[arg(long)]
        version: Option<String>,
        /// The value of a `{{ssm:NAME}}` placeholder (repeatable). Without
        /// it, the value is read from SSM when an AWS region is configured.
        #[arg(long, value_name = "NAME=VALUE")]
        ssm: Vec<String>,
        /// Print the report as JSON (the Lambda's report) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check an app config, a smoke-test spec and release overrides offline,
    /// with the Lambdas' own validators. Exit 0: all valid; 2: not.
    ///
    /// Example: bluegreen validate --config deploy/checkout.json --smoke-tests smoke-tests.yml
    #[command(group(
        ArgGroup::new("inputs")
            .required(true)
            .multiple(true)
            .args(["config", "smoke_tests", "overrides"])
    ))]
    Validate {
        /// The app config document, as stored at <prefix>/<app>/config.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A smoke-test spec (YAML or JSON).
        #[arg(long, value_name = "FILE")]
        smoke_tests: Option<PathBuf>,
        /// Per-release overrides as JSON: {"strategy": ..., "monitor": ...};
        /// checked against --config's monitor thresholds, else the defaults.
        #[arg(long, value_name = "JSON")]
        overrides: Option<String>,
        /// The app the smoke tests are for, when no --config names it: their
        /// `{{ssm:NAME}}` must be under <prefix>/<app>/.
        #[arg(long, env = "BLUEGREEN_APP")]
        app: Option<String>,
        /// Print {"valid", "ok", "errors"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Database migrations: `lint` checks an expand migration's SQL for what
    /// breaks the version still running against the shared schema;
    /// `contract` runs the contract migration now (also `bluegreen migrate
    /// contract`).
    ///
    /// Example: bluegreen migrations lint --dialect postgres db/expand/*.sql
    #[command(subcommand, alias = "migrate")]
    Migrations(MigrationsCommand),
    /// Print the JSON Schema of a document people write (`app-config`,
    /// `overrides`, `smoke-tests`), for editors and validators; or write all
    /// of them into a directory.
    ///
    /// Example: `bluegreen schema smoke-tests > smoke-tests.schema.json`
    #[command(group(ArgGroup::new("what").required(true).args(["name", "write"])))]
    Schema {
        /// app-config, overrides or smoke-tests.
        name: Option<String>,
        /// Write every schema into DIR as <name>.schema.json.
        #[arg(long, value_name = "DIR")]
        write: Option<PathBuf>,
    },
    /// Everything on this machine, no AWS account: `local demo`, `local up`.
    /// Runs `bluegreen-local` (the local mode is a binary of its own, so
    /// this one links no Lambda handler and no emulator).
    ///
    /// Example: bluegreen local demo
    #[command(disable_help_flag = true)]
    Local {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BLUEGREEN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            ci::error(&format!("{e:#}"));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let _ = AWS_CHOICE.set((cli.region.clone(), cli.profile.clone()));
    match cli.command {
        Command::Deploy {
            app,
            version,
            image,
            images,
            task_definition,
            redeploy,
            state_machine_arn,
            smoke_tests,
            overrides,
            no_wait,
            no_wait_for_approval,
            timeout_minutes,
            heartbeat_seconds,
            json,
            environment,
            environment_url,
        } => {
            let smoke_tests = match smoke_tests {
                Some(path) => match std::fs::read_to_string(&path) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        ci::error(&format!("reading the smoke tests {}: {e}", path.display()));
                        return Ok(ExitCode::from(commands::EXIT_BAD_INPUT));
                    }
                },
                None => None,
            };
            let shipped =
                match deploy::shipped(image, images.as_deref(), task_definition.as_deref()) {
                    Ok(shipped) => shipped,
                    Err(e) => {
                        ci::error(&e);
                        return Ok(ExitCode::from(commands::EXIT_BAD_INPUT));
                    }
                };
            let args = deploy::DeployArgs {
                app,
                version,
                shipped,
                redeploy,
                state_machine_arn,
                smoke_tests,
                overrides,
                github: github_context(),
                run: commands::ci_run(),
                wait: !no_wait,
                wait_for_approval: !no_wait_for_approval,
                timeout: Duration::try_from_secs_f64(timeout_minutes * 60.0).map_err(|_| {
                    anyhow!("--timeout-minutes must be a positive number of minutes")
                })?,
                environment_url: environment_url.filter(|u| !u.is_empty()),
                heartbeat: Duration::from_secs(heartbeat_seconds.max(1)),
                json,
            };
            let sdk = sdk().await;
            let sfn = aws_sdk_sfn::Client::new(&sdk);
            // Validate before anything is created on GitHub or AWS.
            // Exit 2 for bad input, found before anything starts.
            if let Err(e) = deploy::input(&args) {
                ci::error(&e);
                return Ok(ExitCode::from(commands::EXIT_BAD_INPUT));
            }
            let mut reporter = github_reporter(&args, &environment).await;
            // Exit 3 when AWS cannot say: the release could not be started
            // or followed.
            let deployed = match deploy::run(&sfn, &args, reporter.as_mut()).await {
                Ok(deployed) => deployed,
                Err(e) => {
                    ci::error(&e);
                    return Ok(ExitCode::from(commands::EXIT_UNKNOWN));
                }
            };
            let ports = bluegreen_aws::ports(&sdk, cli.prefix);
            let (active_color, active_version) = status::status(&ports, &args.app)
                .await
                .map(|s| s.serving())
                .unwrap_or_default();
            let result = deployed
                .ending
                .as_ref()
                .map_or("started", github::result_output)
                .to_string();
            let task_definition_arn = deployed
                .ending
                .as_ref()
                .and_then(|e| e.task_definition_arn())
                .unwrap_or_default()
                .to_string();
            ci::set_outputs(&[
                ("execution-arn", &deployed.execution_arn),
                ("result", &result),
                ("active-color", &active_color),
                ("version", &active_version),
                ("task-definition-arn", &task_definition_arn),
            ])?;
            // With --json, stdout holds one document; the words go to stderr.
            let json = args.json;
            let tell = |line: String| {
                if json {
                    eprintln!("{line}");
                } else {
                    println!("{line}");
                }
            };
            let fail = |line: String| {
                if json {
                    eprintln!("error: {line}");
                } else {
                    ci::error(&line);
                }
            };
            if json {
                let steps: Vec<serde_json::Value> = deployed
                    .steps
                    .iter()
                    .map(|s| serde_json::json!({"at_seconds": s.at_seconds, "state": s.state, "text": s.text}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "app": args.app,
                        "version": args.version,
                        "execution_arn": deployed.execution_arn,
                        "result": result,
                        "active_color": active_color,
                        "serving_version": active_version,
                        "task_definition_arn": (!task_definition_arn.is_empty()).then_some(&task_definition_arn),
                        "steps": steps,
                    }))?
                );
            }
            match &deployed.ending {
                Some(e) if e.at_gate => {
                    let waits = if result == "waiting-window" {
                        "waits for its release window (it goes on by itself)".to_string()
                    } else {
                        format!(
                            "waits for approval: bluegreen approve --app {} (or reject --reason ...)",
                            args.app
                        )
                    };
                    tell(format!(
                        "{} {} {waits}; production serves {active_color} {active_version}",
                        args.app, args.version
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                Some(e) if e.following_timed_out => {
                    fail(format!(
                        "stopped following {} of {} after --timeout-minutes; the release goes on: {}; production serves {active_color} {active_version} now",
                        args.version, args.app, deployed.execution_arn
                    ));
                    Ok(ExitCode::from(commands::EXIT_UNKNOWN))
                }
                Some(e) if !e.succeeded() => {
                    let why = e.error.clone().unwrap_or_else(|| e.status.clone());
                    // What stopped it, in the step's own words (a failed
                    // migration with its exit code and log, a smoke summary).
                    let why = match e.step_error() {
                        Some(step) => format!("{why} ({step})"),
                        None => why,
                    };
                    fail(format!(
                        "release {} of {} did not go live: {why}; production serves {active_color} {active_version}",
                        args.version, args.app
                    ));
                    Ok(ExitCode::FAILURE)
                }
                Some(_) => {
                    tell(format!(
                        "{} {} is live on {active_color}",
                        args.app, args.version
                    ));
                    Ok(ExitCode::SUCCESS)
                }
                None => Ok(ExitCode::SUCCESS),
            }
        }
        Command::Rollback {
            app,
            reason,
            requested_by,
            topic_arn,
            function,
            environment,
            json,
        } => {
            let via = match (topic_arn, function) {
                (Some(t), _) => rollback::Via::Topic(t),
                (None, Some(f)) => rollback::Via::Function(f),
                (None, None) => {
                    return Ok(commands::Failure::bad_input(
                        "say where to send the rollback: --topic-arn (or BLUEGREEN_EMERGENCY_TOPIC_ARN) or --function (or BLUEGREEN_ROLLBACK_FUNCTION)",
                    )
                    .report(json));
                }
            };
            let sdk = sdk().await;
            let ports = bluegreen_aws::ports(&sdk, cli.prefix);
            let args = rollback::RollbackArgs {
                app,
                reason,
                requested_by,
                via,
                environment,
            };
            match rollback::run(&sdk, &ports, &args).await {
                Ok(out) => {
                    println!("{}", serde_json::to_string_pretty(&out)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    ci::error(&e.message);
                    Ok(ExitCode::from(e.exit))
                }
            }
        }
        Command::Report {
            execution,
            environment,
            environment_url,
            json,
        } => Ok(
            match report(&execution, &environment, environment_url.as_deref(), json).await {
                Ok(code) => code,
                Err(failure) => failure.report(json),
            },
        ),
        Command::Approve {
            app,
            execution,
            by,
            json,
        } => {
            let decision = gate::Decision::Approve;
            decide_at_gate(&cli.prefix, app, execution, by, decision, json).await
        }
        Command::Reject {
            app,
            reason,
            execution,
            by,
            json,
        } => {
            let decision = gate::Decision::Reject { reason };
            decide_at_gate(&cli.prefix, app, execution, by, decision, json).await
        }
        Command::Status { app, json } => {
            let sdk = sdk().await;
            let ssm = aws_sdk_ssm::Client::new(&sdk);
            let ports = bluegreen_aws::ports(&sdk, cli.prefix.clone());
            let Some(app) = app else {
                let apps = match status::apps(&ssm, &cli.prefix).await {
                    Ok(apps) => apps,
                    Err(e) => return Ok(commands::Failure::unknown(e).report(json)),
                };
                let all = status::status_all(&ports, &apps).await;
                if json {
                    println!("{}", serde_json::to_string_pretty(&all)?);
                } else if all.is_empty() {
                    println!("no apps under {}", cli.prefix);
                } else {
                    print!("{}", status::render_all(&all));
                }
                return Ok(ExitCode::SUCCESS);
            };
            let s = match status::status(&ports, &app).await {
                Ok(s) => s,
                Err(e) => return Ok(commands::Failure::of(&e).report(json)),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", status::render(&s));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile { app, json } => {
            let sdk = sdk().await;
            let ports = bluegreen_aws::ports(&sdk, cli.prefix);
            let now = time::OffsetDateTime::now_utc();
            let out = match bluegreen_core::steps::reconcile::reconcile(&ports, &app, now).await {
                Ok(out) => out,
                Err(e) => return Ok(commands::Failure::of(&e).report(json)),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let serves = format!(
                    "{} {}",
                    out.after.active_color,
                    out.after
                        .active_version
                        .as_deref()
                        .unwrap_or("(unknown version)")
                );
                if out.changed {
                    println!("{app}: recorded what serves: {serves}");
                } else {
                    println!("{app}: the record already says what serves: {serves}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Smoke {
            spec,
            base_url,
            version,
            ssm,
            json,
        } => {
            let args = smoke::SmokeArgs {
                spec,
                base_url,
                version,
                ssm,
            };
            let report = match smoke::run(&args).await {
                Ok(report) => report,
                Err(e) => {
                    ci::error(&e);
                    return Ok(ExitCode::from(commands::EXIT_BAD_INPUT));
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", smoke::render(&report));
            }
            Ok(if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(commands::EXIT_FAILED)
            })
        }
        Command::Validate {
            config,
            smoke_tests,
            overrides,
            app,
            json,
        } => {
            let checked = validate::validate(&validate::ValidateArgs {
                config,
                smoke_tests,
                overrides,
                prefix: cli.prefix.clone(),
                app,
            });
            if json {
                println!(
                    "{}",
                    serde_json::json!({"valid": checked.valid(), "ok": checked.ok, "errors": checked.errors})
                );
            } else {
                for line in &checked.ok {
                    println!("{line}");
                }
            }
            for e in &checked.errors {
                ci::error(e);
            }
            Ok(if checked.valid() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(commands::EXIT_BAD_INPUT)
            })
        }
        Command::Migrations(MigrationsCommand::Lint {
            files,
            config,
            dialect,
            json,
        }) => {
            let files = match config {
                Some(config) => match commands::migrate::declared_sql_files(&config) {
                    Ok(declared) => files.into_iter().chain(declared).collect(),
                    Err(e) => {
                        ci::error(&e);
                        return Ok(ExitCode::from(commands::EXIT_BAD_INPUT));
                    }
                },
                None => files,
            };
            Ok(lint_migrations(&files, dialect, json))
        }
        Command::Migrations(MigrationsCommand::Contract {
            app,
            by,
            timeout_minutes,
            settle_seconds,
            json,
        }) => {
            let sdk = sdk().await;
            let ports = bluegreen_aws::ports(&sdk, cli.prefix.clone());
            let by = commands::migrate::who(by.as_deref());
            let limit = Duration::from_secs_f64(timeout_minutes.max(0.0) * 60.0);
            let ran = commands::migrate::run_contract(&ports, &app, &by, settle_seconds, limit, |o| {
                match o.task_arn.as_deref() {
                    Some(task) => eprintln!("the contract migration of {app} runs: {task}"),
                    None => eprintln!(
                        "the contract of {app} is announced (rollbacks are refused from now on); its task starts in {} s",
                        o.wait_seconds
                    ),
                }
            })
            .await;
            contract_answer(&app, ran, json)
        }
        Command::Schema { name, write } => {
            if let Some(dir) = write {
                for path in schema::write_all(&dir)
                    .with_context(|| format!("writing the schemas into {}", dir.display()))?
                {
                    println!("wrote {path}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let name = name.unwrap_or_default();
            match schema::all().into_iter().find(|(n, _)| *n == name) {
                Some((_, doc)) => {
                    print!("{}", schema::text(&doc));
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    ci::error(&format!(
                        "no schema named `{name}`: use one of {}",
                        schema::names().join(", ")
                    ));
                    Ok(ExitCode::from(commands::EXIT_BAD_INPUT))
                }
            }
        }
        Command::Local { args } => commands::local::run(&args),
    }
}

/// A GitHub reporter when running with a token for a repository; none (and
/// a warning when half-configured) otherwise.
async fn github_reporter(args: &deploy::DeployArgs, environment: &str) -> Option<github::Reporter> {
    if std::env::var("GITHUB_TOKEN").is_err() || std::env::var("GITHUB_REPOSITORY").is_err() {
        return None;
    }
    let gh = match github::GitHub::from_env() {
        Ok(gh) => gh,
        Err(e) => {
            ci::warning(&format!("not reporting to GitHub: {e}"));
            return None;
        }
    };
    let release = github::Release {
        app: args.app.clone(),
        version: args.version.clone(),
        sha: std::env::var("GITHUB_SHA").unwrap_or_else(|_| args.version.clone()),
        environment: environment.to_string(),
        production: github::production_like(environment),
        pr: std::env::var("BLUEGREEN_PR")
            .ok()
            .and_then(|v| v.parse().ok()),
        summary_path: github::summary_path_from_env().ok(),
    };
    // The execution's name lets a retried step find this deployment again.
    let payload = serde_json::json!({
        "app": args.app,
        "version": args.version,
        "execution_name": bluegreen_action::commands::execution_name(&args.app, &args.version, &args.run),
    });
    match github::Reporter::create(gh, release, payload).await {
        Ok(r) => Some(r),
        Err(e) => {
            ci::warning(&format!("could not create the GitHub deployment: {e}"));
            None
        }
    }
}

/// What the execution input records about the GitHub run, when there is one.
fn github_context() -> Option<serde_json::Value> {
    let repository = std::env::var("GITHUB_REPOSITORY").ok()?;
    let mut github = serde_json::json!({"repository": repository});
    if let Ok(sha) = std::env::var("GITHUB_SHA") {
        github["sha"] = sha.into();
    }
    if let Some(id) = std::env::var("GITHUB_RUN_ID")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        github["run_id"] = id.into();
    }
    if let Some(pr) = std::env::var("BLUEGREEN_PR")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        github["pr"] = pr.into();
    }
    Some(github)
}

async fn decide_at_gate(
    prefix: &str,
    app: String,
    execution: Option<String>,
    by: Option<String>,
    decision: gate::Decision,
    json: bool,
) -> Result<ExitCode> {
    let sdk = sdk().await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let ports = bluegreen_aws::ports(&sdk, prefix.to_string());
    let by = by
        .filter(|b| !b.trim().is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()));
    let identity = gate::caller_identity(&aws_sdk_sts::Client::new(&sdk)).await;
    let args = gate::GateArgs {
        app,
        execution,
        by,
        identity,
        decision,
    };
    let decided = match gate::decide(&sfn, &ports, prefix, &args).await {
        Ok(decided) => decided,
        Err(failure) => return Ok(failure.report(json)),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&decided)?);
    } else {
        println!(
            "{} {} {} at its gate (step {}, before {}%){}{}: {}",
            decided.decision,
            decided.app,
            decided.version,
            decided.step,
            decided.weight,
            decided
                .by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
            decided
                .reason
                .as_deref()
                .map(|r| format!(", because {r}"))
                .unwrap_or_default(),
            decided.execution_arn
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `migrate contract` says, and its exit code.
fn contract_answer(
    app: &str,
    ran: Result<bluegreen_core::steps::migrate::ContractOutcome, bluegreen_core::Error>,
    json: bool,
) -> Result<ExitCode> {
    let outcome = match ran {
        Ok(outcome) => outcome,
        Err(e) => {
            ci::error(&e.to_string());
            return Ok(ExitCode::from(match e.error_type() {
                "MigrationFailed" | "LockHeld" => commands::EXIT_FAILED,
                "BadInput" | "UnknownApp" => commands::EXIT_BAD_INPUT,
                _ => commands::EXIT_UNKNOWN,
            }));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    }
    let code = if outcome.contracted {
        if !json {
            println!(
                "{app}: the schema is contracted; a rollback to the release before is refused from now on{}",
                outcome
                    .log_url
                    .as_deref()
                    .map(|u| format!(" (log: {u})"))
                    .unwrap_or_default()
            );
        }
        ExitCode::SUCCESS
    } else if outcome.migrating {
        ci::error(&format!(
            "{app}: the contract task {} still runs; stopped waiting (run the command again to look)",
            outcome.task_arn.as_deref().unwrap_or_default()
        ));
        ExitCode::from(commands::EXIT_UNKNOWN)
    } else {
        let why = outcome.skipped.clone().unwrap_or_default();
        ci::error(&format!("{app}: the contract did not run: {why}"));
        ExitCode::from(commands::EXIT_FAILED)
    };
    Ok(code)
}

/// `bluegreen migrations lint`: every file is read and linted; findings are
/// printed (an error annotation each in GitHub Actions), unreadable files
/// too.
fn lint_migrations(
    files: &[PathBuf],
    dialect: bluegreen_action::migrations::lint::SqlDialect,
    json: bool,
) -> ExitCode {
    use bluegreen_action::migrations::lint;
    let (mut findings, mut unreadable) = (0, 0);
    for path in files {
        let name = path.display().to_string();
        let linted = std::fs::read_to_string(path)
            .map_err(|e| format!("{name}: cannot read: {e}"))
            .and_then(|sql| lint::lint(&name, &sql, dialect).map_err(|e| e.to_string()));
        match linted {
            Ok(found) => {
                for f in &found {
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string(f).expect("a finding serialises")
                        );
                    } else {
                        ci::error(&f.to_string());
                    }
                }
                findings += found.len();
            }
            Err(e) => {
                unreadable += 1;
                ci::error(&e);
            }
        }
    }
    if !json {
        println!(
            "{} file(s): {findings} finding(s){}",
            files.len(),
            if unreadable > 0 {
                format!(", {unreadable} unreadable")
            } else {
                String::new()
            }
        );
    }
    if unreadable > 0 {
        ExitCode::from(commands::EXIT_BAD_INPUT)
    } else if findings > 0 {
        ExitCode::from(commands::EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// `bluegreen report`: the execution as it stands, told to GitHub.
async fn report(
    execution: &str,
    environment: &str,
    environment_url: Option<&str>,
    json: bool,
) -> Result<ExitCode, commands::Failure> {
    use commands::Failure;
    let sdk = sdk().await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let read = commands::report::read(&sfn, execution).await?;
    let gh = github::GitHub::from_env()
        .map_err(|e| Failure::bad_input(format!("cannot report to GitHub: {e}")))?;
    let release = github::Release {
        app: read.app.clone(),
        version: read.version.clone(),
        sha: read
            .sha
            .clone()
            .or_else(|| std::env::var("GITHUB_SHA").ok())
            .unwrap_or_else(|| read.version.clone()),
        environment: environment.to_string(),
        production: github::production_like(environment),
        pr: read.pr.or_else(|| {
            std::env::var("BLUEGREEN_PR")
                .ok()
                .and_then(|v| v.parse().ok())
        }),
        summary_path: github::summary_path_from_env().ok(),
    };
    let payload = serde_json::json!({
        "app": read.app,
        "version": read.version,
        "execution_name": read.execution_name,
    });
    let mut reporter = github::Reporter::create(gh, release, payload)
        .await
        .map_err(|e| Failure::unknown(format!("cannot report to GitHub: {e}")))?;
    reporter.set_execution(execution);
    let doc = read.ending.document.clone();
    let still_running = read.ending.following_timed_out;
    let outcome = if still_running {
        reporter
            .progress(&read.steps, doc.as_ref())
            .await
            .map_err(|e| Failure::unknown(format!("cannot report to GitHub: {e}")))?;
        github::Outcome::InProgress
    } else {
        reporter
            .finished(
                &read.steps,
                Some(&read.ending),
                doc.as_ref(),
                environment_url,
            )
            .await
            .map_err(|e| Failure::unknown(format!("cannot report to GitHub: {e}")))?
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "app": read.app,
                "version": read.version,
                "outcome": outcome.word(),
                "deployment_id": reporter.deployment_id(),
            })
        );
    } else {
        println!(
            "{} {}: {} (deployment {})",
            read.app,
            read.version,
            outcome.word(),
            reporter.deployment_id()
        );
    }
    Ok(match outcome {
        github::Outcome::Failed | github::Outcome::RolledBack | github::Outcome::Aborted => {
            ExitCode::from(commands::EXIT_FAILED)
        }
        _ => ExitCode::SUCCESS,
    })
}
