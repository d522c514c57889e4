//! The execution document the state machine carries from step to step: the
//! input a release starts with, what each step is asked, and what each step
//! answered. It names no step: a step's result type lives here, so no step
//! imports another to read it.

pub mod input;
pub mod outcomes;
pub mod requests;
pub mod task_definition;
