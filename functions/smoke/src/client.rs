//! The HTTP client smoke tests are sent with.

/// Built once per process. Redirects are not followed: a test checks the
/// answer the idle color itself gives, and a redirect must not carry the
/// test's headers (tokens) to another host.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bluegreen-smoke/", env!("CARGO_PKG_VERSION")))
        .build()
}
