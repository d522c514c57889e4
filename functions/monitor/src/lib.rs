//! The monitor Lambda.
