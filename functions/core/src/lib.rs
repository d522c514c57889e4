//! The blue-green domain. Everything here is free of the AWS SDK: the outside
//! world is reached through the traits in [`ports`]. Grouped by what each
//! part is:
//!
//! - [`document`]: the execution document the state machine carries (its
//!   input, what each step is asked, what each step answered);
//! - [`records`]: what bluegreen keeps in the parameter store (the config
//!   and its schema, state, lock, fence, scaling bounds, the announcement);
//! - [`steps`]: what each Lambda does (deploy, ready, switch, monitor,
//!   rollback, scale-down, abort, reconcile);
//! - [`world`]: one observed snapshot of the load balancer and ECS, and how
//!   traffic is split;
//! - [`ports`]: the traits the outside world is reached through, and the
//!   capability object that bundles them;
//! - `sim` (feature `sim`): the in-memory AWS and seeded scheduler of the
//!   simulation.
//!
//! The groups import one another without circles (`layering_tests`).

pub mod color;
pub mod document;
pub mod error;
pub mod parse;
pub mod ports;
pub mod records;
#[cfg(feature = "sim")]
pub mod sim;
pub mod steps;
pub mod world;

pub use color::Color;
pub use error::{Error, Result};
pub use world::split::Split;

#[cfg(test)]
mod layering_tests;

// For the delegation macros in `ports::capabilities`, expanded in other crates.
#[doc(hidden)]
pub use time as __time;
