//! Smoke tests: spec and runner.
