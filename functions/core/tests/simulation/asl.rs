//! The checked-in state machine (`cdk/state-machine.asl.json`, what `cdk
//! synth` writes and production runs), interpreted: which state follows
//! which, what each Task is given (`Parameters`) and where its result or
//! caught error goes (`ResultPath`), how each Choice decides, and each Task's
//! `Retry` and `Catch`. A change to the ASL changes what is simulated; a
//! construct this interpreter does not know stops the simulation and says
//! which, rather than being played wrong.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

const ASL: &str = include_str!("../../../../cdk/state-machine.asl.json");

/// The state machine's definition.
pub struct Machine {
    asl: Value,
}

/// What a state does next.
pub enum Next {
    Go(String),
    Succeed,
    /// A `Fail` state, or an error no `Catch` took: the execution fails.
    Fail(String),
}

impl Machine {
    pub fn checked_in() -> &'static Machine {
        static MACHINE: OnceLock<Machine> = OnceLock::new();
        MACHINE.get_or_init(|| {
            let asl: Value = serde_json::from_str(ASL).expect("the ASL parses");
            let machine = Machine { asl };
            machine.check_known();
            machine
        })
    }

    pub fn start(&self) -> String {
        self.asl["StartAt"].as_str().expect("StartAt").to_string()
    }

    pub fn state(&self, name: &str) -> &Value {
        let state = &self.asl["States"][name];
        assert!(state.is_object(), "the ASL has no state {name}");
        state
    }

    /// Every field of every state is one this interpreter plays.
    fn check_known(&self) {
        const KNOWN: &[&str] = &[
            "Type",
            "Comment",
            "Next",
            "End",
            "Resource",
            "Parameters",
            "ResultPath",
            "Retry",
            "Catch",
            "Choices",
            "Default",
            "Seconds",
            "SecondsPath",
            "TimeoutSecondsPath",
            "Error",
            "Cause",
        ];
        for (name, state) in self.asl["States"].as_object().expect("States") {
            for key in state.as_object().expect("a state is an object").keys() {
                assert!(
                    KNOWN.contains(&key.as_str()),
                    "the simulation does not play `{key}` (state {name}): teach functions/core/tests/simulation/asl.rs"
                );
            }
        }
    }
}

/// The Lambda function a Task state invokes (the last part of its ARN,
/// without the `bluegreen-` prefix).
pub fn function(state: &Value) -> String {
    let mut arn = state["Resource"].as_str().expect("a Task has a Resource");
    // A service integration (`arn:aws:states:::lambda:invoke...`) names the
    // function in its Parameters.
    if arn.starts_with("arn:aws:states:::lambda:invoke") {
        arn = state["Parameters"]["FunctionName"]
            .as_str()
            .expect("a Lambda integration names its FunctionName");
    }
    let name = arn.rsplit(':').next().unwrap_or(arn);
    name.strip_prefix("bluegreen-").unwrap_or(name).to_string()
}

/// Whether the Task waits for a task token (`.waitForTaskToken`): its
/// function's answer only starts the wait; the result is what the token's
/// holder sends back.
pub fn waits_for_token(state: &Value) -> bool {
    state["Resource"]
        .as_str()
        .is_some_and(|r| r.ends_with(".waitForTaskToken"))
}

/// The state after `state` when it completes normally.
pub fn next(state: &Value) -> Next {
    match state["Next"].as_str() {
        Some(n) => Next::Go(n.to_string()),
        None => Next::Succeed,
    }
}

/// What a Pass or Task state is given: its `Parameters` resolved against the
/// document (`"key.$": "$.path"` and the context object's `$$.`), or the
/// document itself.
pub fn input(state: &Value, doc: &Value, context: &Value) -> Value {
    match state.get("Parameters") {
        Some(template) => resolve(template, doc, context),
        None => doc.clone(),
    }
}

fn resolve(template: &Value, doc: &Value, context: &Value) -> Value {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match key.strip_suffix(".$") {
                    Some(key) => {
                        let path = value.as_str().expect("a `.$` field holds a path");
                        let found = match path.strip_prefix('$') {
                            Some(rest) if rest.starts_with('$') => get(context, rest),
                            _ => get(doc, path),
                        };
                        // Step Functions fails the execution (`States.Runtime`)
                        // on a path that matches nothing: so does the simulation.
                        let found = found.cloned().unwrap_or_else(|| {
                            panic!("the ASL's path {path} matches nothing in {doc}")
                        });
                        out.insert(key.to_string(), found);
                    }
                    None => {
                        out.insert(key.clone(), resolve(value, doc, context));
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The value at a reference path (`$`, `$.a.b`), if present.
pub fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path.strip_prefix('$').expect("a path starts with $");
    let mut at = doc;
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        at = at.get(part)?;
    }
    Some(at)
}

/// Puts `value` at `state`'s `ResultPath` (`$` replaces the document; no
/// ResultPath is `$`; `null` discards it).
pub fn put_result(doc: &mut Value, result_path: Option<&Value>, value: Value) {
    let path = match result_path {
        None => "$",
        Some(Value::Null) => return,
        Some(p) => p.as_str().expect("ResultPath is a path"),
    };
    let rest = path.strip_prefix('$').expect("a path starts with $");
    let parts: Vec<&str> = rest.split('.').filter(|p| !p.is_empty()).collect();
    let Some((last, parents)) = parts.split_last() else {
        *doc = value;
        return;
    };
    let mut at = doc;
    for part in parents {
        if !at.get(*part).is_some_and(Value::is_object) {
            at[*part] = json!({});
        }
        at = &mut at[*part];
    }
    at[*last] = value;
}

/// The state a Choice goes to.
pub fn choose(state: &Value, doc: &Value) -> Next {
    for choice in state["Choices"].as_array().expect("Choices") {
        if rule(choice, doc) {
            return Next::Go(
                choice["Next"]
                    .as_str()
                    .expect("a choice has Next")
                    .to_string(),
            );
        }
    }
    match state["Default"].as_str() {
        Some(d) => Next::Go(d.to_string()),
        None => Next::Fail("States.NoChoiceMatched".to_string()),
    }
}

fn rule(rule: &Value, doc: &Value) -> bool {
    if let Some(all) = rule.get("And") {
        return all
            .as_array()
            .expect("And")
            .iter()
            .all(|r| self::rule(r, doc));
    }
    if let Some(any) = rule.get("Or") {
        return any
            .as_array()
            .expect("Or")
            .iter()
            .any(|r| self::rule(r, doc));
    }
    if let Some(not) = rule.get("Not") {
        return !self::rule(not, doc);
    }
    let path = rule["Variable"].as_str().expect("a rule has a Variable");
    let value = get(doc, path);
    let operators = [
        "BooleanEquals",
        "StringEquals",
        "NumericEquals",
        "IsPresent",
        "IsNull",
    ];
    let Some(op) = operators.iter().find(|op| rule.get(**op).is_some()) else {
        panic!(
            "the simulation does not play the choice rule {rule}: teach functions/core/tests/simulation/asl.rs"
        );
    };
    let expected = &rule[*op];
    match *op {
        "IsPresent" => value.is_some() == expected.as_bool().unwrap(),
        "IsNull" => value.is_some_and(Value::is_null) == expected.as_bool().unwrap(),
        // The typed comparisons are false (not an error) on another type,
        // and a missing variable is a runtime error in Step Functions:
        // `States.Runtime`, which no Catch here takes; the simulation
        // treats it as no match, and the rule it broke shows in the trace.
        _ => value.is_some_and(|v| v == expected),
    }
}

/// A Task state's `Retry` and `Catch` as the ASL declares them.
pub struct TaskPolicy {
    /// Each retrier: the errors it matches and its `MaxAttempts`.
    retriers: Vec<(Vec<String>, u32)>,
    /// Each catcher: the errors it matches, where the error goes, and the
    /// state it goes to.
    catchers: Vec<(Vec<String>, Option<Value>, String)>,
    /// Attempts used per retrier (Step Functions counts them apart).
    used: Vec<u32>,
}

fn matches(errors: &[String], error: &str) -> bool {
    errors.iter().any(|e| e == error || e == "States.ALL")
}

/// What a caught error looks like in the document.
pub fn error_value(error: &str, cause: &str) -> Value {
    json!({"Error": error, "Cause": cause})
}

impl TaskPolicy {
    pub fn of(state: &Value) -> TaskPolicy {
        assert_eq!(state["Type"], "Task", "not a Task: {state}");
        let errors = |v: &Value| -> Vec<String> {
            v["ErrorEquals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap().to_string())
                .collect()
        };
        let list = |key: &str| state[key].as_array().cloned().unwrap_or_default();
        let retriers: Vec<(Vec<String>, u32)> = list("Retry")
            .iter()
            // Step Functions' default MaxAttempts is 3.
            .map(|r| (errors(r), r["MaxAttempts"].as_u64().unwrap_or(3) as u32))
            .collect();
        TaskPolicy {
            used: vec![0; retriers.len()],
            retriers,
            catchers: list("Catch")
                .iter()
                .map(|c| {
                    (
                        errors(c),
                        c.get("ResultPath").cloned(),
                        c["Next"].as_str().unwrap().to_string(),
                    )
                })
                .collect(),
        }
    }

    /// Whether Step Functions retries `error` now: the first retrier that
    /// matches it decides, until its attempts are used up.
    pub fn retry(&mut self, error: &str) -> bool {
        let Some(i) = self.retriers.iter().position(|(e, _)| matches(e, error)) else {
            return false;
        };
        if self.used[i] < self.retriers[i].1 {
            self.used[i] += 1;
            return true;
        }
        false
    }

    /// The first matching catcher: where the error goes and the next state.
    pub fn catch(&self, error: &str) -> Option<(Option<&Value>, &str)> {
        self.catchers
            .iter()
            .find(|(e, _, _)| matches(e, error))
            .map(|(_, path, next)| (path.as_ref(), next.as_str()))
    }
}
