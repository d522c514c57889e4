//! Deterministic simulation support (feature `sim`): an in-memory AWS that
//! implements every port, injects faults at each call from a seeded random
//! source, and hands control back to a scheduler before each call, so that
//! the real step code of several actors interleaves at every port call.
//!
//! In the spirit of FoundationDB's simulator and TigerBeetle's VOPR: one seed
//! decides everything (interleaving, faults, operators), time is virtual, and
//! a failing seed replays exactly.

pub mod model;
pub mod scheduler;

pub use model::{Fault, FaultHook, Model, SimBundle, SimPorts, TaskDef};
pub use scheduler::{Scheduler, yield_now};
