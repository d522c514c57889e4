//! The HTTP client smoke tests are sent with.

/// Built once per process. Redirects are not followed: a test checks the
/// answer the idle color itself gives, and a redirect must not carry the
/// test's headers (tokens) to another host.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    http_client_builder().build()
}

/// [`http_client`]'s settings, for a host that runs the smoke tests on a
/// network of its own (local mode resolves the VPC's private names with it).
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bluegreen-smoke/", env!("CARGO_PKG_VERSION")))
}
