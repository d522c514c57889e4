//! The smoke-test Lambda.
