//! The `bluegreen` CLI's tests, one binary (each test binary links the whole
//! AWS SDK; one link instead of four): the binary as a process against local
//! mode, its offline commands, following executions through API blips,
//! GitHub reporting against a local fake, and the installer.

mod cli_local;
mod commands_offline;
mod follow;
mod github;
#[allow(dead_code)]
mod github_fake;
mod install_script;
mod results;
mod schemas;
