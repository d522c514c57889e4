//! Turning a test (or the warm-up) into an HTTP request, placeholders filled.

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

use crate::sources::{EnvSource, SecretSource};
use crate::spec::{Body, Header, Method};
use crate::template::Template;
use crate::vars::{Variables, missing};

/// A request ready to send, as often as retries need. Not `Debug`: its
/// URL, headers and body may hold secrets.
pub(crate) struct Request {
    pub(crate) method: reqwest::Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Vec<u8>>,
}

/// `template` with its placeholders filled, or why not. The variables'
/// secrets must have been prepared.
pub(crate) fn render<S: SecretSource, E: EnvSource>(
    template: &Template,
    vars: &Variables<'_, S, E>,
) -> Result<String, String> {
    template
        .render(&|v| vars.lookup(v))
        .map_err(|v| missing(&v))
}

/// Builds the request to `url` (already rendered). `base` is the parsed base
/// URL, or why it did not parse.
pub(crate) fn build<S: SecretSource, E: EnvSource>(
    method: Method,
    url: &str,
    headers: &[Header],
    body: Option<&Body>,
    vars: &Variables<'_, S, E>,
    base: &Result<Url, String>,
) -> Result<Request, String> {
    let base = base.as_ref().map_err(Clone::clone)?;
    let url = Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    // A smoke test proves the idle color and nothing else: a URL elsewhere
    // would receive the spec's secrets (or reach production).
    if url.origin() != base.origin() {
        return Err(format!(
            "`{url}` is outside the base URL {}: smoke tests may only call the idle color",
            base.origin().ascii_serialization()
        ));
    }

    let mut map = HeaderMap::new();
    for h in headers {
        let text = render(&h.value, vars)?;
        let mut value = HeaderValue::from_str(&text).map_err(|_| {
            format!(
                "header `{}`: the value is not a valid HTTP header value",
                h.name
            )
        })?;
        // Keeps the value out of any `Debug` output of the request.
        value.set_sensitive(h.value.vars().any(|v| v.is_secret()));
        map.insert(h.name.clone(), value);
    }

    let body = match body {
        None => None,
        Some(Body::Raw(t)) => Some(render(t, vars)?.into_bytes()),
        Some(Body::Json(t)) => {
            let value = t.render(&|v| vars.lookup(v)).map_err(|v| missing(&v))?;
            if !map.contains_key(CONTENT_TYPE) {
                map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Some(serde_json::to_vec(&value).expect("a JSON value serialises"))
        }
    };

    Ok(Request {
        method: method.to_reqwest(),
        url,
        headers: map,
        body,
    })
}
