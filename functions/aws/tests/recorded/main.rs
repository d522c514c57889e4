//! The adapters against recorded AWS answers served by a local stand-in
//! (one test binary: each links the SDK).

mod cloudwatch;
mod ecs;
mod elbv2;
mod support;
mod timeouts;
