//! The `bluegreen` CLI's library: the commands, following executions
//! (`timeline`) and GitHub reporting, shared by the binary, the local mode
//! (`bluegreen-local`) and the end-to-end tests.

pub mod ci;
pub mod commands;
pub mod github;
pub mod migrations;
pub mod results;
pub mod timeline;
