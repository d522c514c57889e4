//! Scenarios against the local AWS emulator (moto), started by the tests
//! themselves, in one binary (each test binary links the whole AWS SDK): each
//! Lambda's real handler behind its event shape, and the real state machine
//! end to end.

mod acting;
mod announcement;
mod autoscaling;
mod deploy_idle;
mod lock;
mod monitor;
mod pipeline;
mod rollback;
mod rounds;
mod stale_reads;
mod switch;
