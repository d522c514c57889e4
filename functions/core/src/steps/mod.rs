//! What each Lambda does, one module per step: each observes the world,
//! decides, then acts (the larger ones as a pure plan and one executor).

pub mod abort;
pub mod deploy;
pub mod gate;
pub mod hooks;
pub mod migrate;
pub mod monitor;
pub mod notices;
pub mod notify;
pub mod ready;
pub mod reconcile;
pub mod rollback;
pub mod scale_down;
pub mod switch;
