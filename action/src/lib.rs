//! The `bluegreen` CLI's library: following executions (`timeline`) and the
//! local mode (`local`), shared by the binary and the end-to-end tests.

pub mod ci;
pub mod commands;
pub mod github;
pub mod local;
pub mod timeline;
