//! Where the spec comes from: inline in the execution input, else the app's
//! parameter.

use bluegreen_core::Error;
use bluegreen_core::document::input::{ExecutionInput, SOURCE};
use bluegreen_core::ports::ParameterStore;
use bluegreen_core::records::store::AppStore;

/// The spec text and where it was found (for the log).
pub(crate) async fn spec_text<P: ParameterStore>(
    input: &ExecutionInput,
    store: &AppStore<'_, P>,
) -> Result<(String, String), Error> {
    let params = store.aws();
    if let Some(text) = &input.smoke_tests {
        return Ok((text.clone(), "execution input `smoke_tests`".to_string()));
    }
    let name = store.parameter(&input.app, "smoke-tests");
    match params.get(&name).await? {
        Some(p) => Ok((p.value, name)),
        // No tests is not a pass: nothing would have proven the release.
        None => Err(Error::bad_input(
            SOURCE,
            "smoke_tests",
            format!(
                "no smoke tests: give `smoke_tests` in the execution input or store a spec at {name}"
            ),
        )),
    }
}
