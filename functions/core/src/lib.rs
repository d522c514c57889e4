//! The blue-green domain. Everything here is free of the AWS SDK: the outside
//! world is reached through the traits in [`ports`].

pub mod abort;
pub mod announcement;
pub mod capabilities;
pub mod color;
pub mod config;
pub mod deploy;
pub mod error;
pub mod fence;
pub mod input;
pub mod lock;
pub mod metric_check;
pub mod monitor;
pub mod outcomes;
pub mod parse;
pub mod ports;
pub mod ready;
pub mod reconcile;
pub mod requests;
pub mod retry;
pub mod rollback;
pub mod routing;
pub mod scale_down;
pub mod scaling;
pub mod schemas;
#[cfg(feature = "sim")]
pub mod sim;
pub mod split;
pub mod state;
pub mod store;
pub mod switch;
pub mod validation;
pub mod world;

pub use color::Color;
pub use error::{Error, Result};
pub use split::Split;

#[cfg(test)]
mod layering_tests;

// For the delegation macros in `capabilities`, expanded in other crates.
#[doc(hidden)]
pub use time as __time;
