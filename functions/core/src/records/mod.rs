//! What bluegreen keeps in the parameter store, one document per key under
//! `<prefix>/<app>/`: the app's config (with the rules and JSON Schemas of
//! the documents people write), its state, the lock, the rollback fence, the
//! scaling bounds held during a release, and the store that reads and writes
//! them. Records are what bluegreen wrote down; the world says what is.

pub mod announcement;
pub mod config;
pub mod fence;
pub mod gates;
pub mod hooks;
pub mod lock;
pub mod metric_check;
pub mod migrations;
pub mod notifications;
pub mod scaling;
pub mod schemas;
pub mod state;
pub mod store;
pub mod validation;
pub mod window;
