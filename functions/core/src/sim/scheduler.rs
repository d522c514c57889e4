//! A single-threaded, seeded scheduler for the actors' futures. Every port
//! call of the in-memory world yields once ([`yield_now`]); the scheduler then
//! picks, with its own random source, which actor runs next. Nothing here
//! depends on wall-clock time or on a runtime.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Yields to the scheduler once.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            // The scheduler polls every actor itself (its waker does
            // nothing); an async runtime needs the wake to poll this again,
            // so the in-memory AWS also runs under tokio.
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

type Actor<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// Runs actors to completion, one poll at a time, in an order drawn from
/// `rng`. `between` runs after every poll (the invariant checks).
#[derive(Default)]
pub struct Scheduler<'a> {
    actors: Vec<(String, Actor<'a>)>,
}

impl<'a> Scheduler<'a> {
    pub fn spawn(&mut self, name: impl Into<String>, actor: impl Future<Output = ()> + 'a) {
        self.actors.push((name.into(), Box::pin(actor)));
    }

    /// Returns the number of polls made. Panics after `max_polls`: a livelock.
    pub fn run(
        mut self,
        rng: &mut fastrand::Rng,
        max_polls: usize,
        mut between: impl FnMut(&str),
    ) -> usize {
        let mut cx = Context::from_waker(Waker::noop());
        let mut polls = 0;
        while !self.actors.is_empty() {
            let i = rng.usize(..self.actors.len());
            let (name, actor) = &mut self.actors[i];
            polls += 1;
            assert!(polls <= max_polls, "no progress after {max_polls} polls");
            let done = actor.as_mut().poll(&mut cx).is_ready();
            let name = name.clone();
            if done {
                drop(self.actors.swap_remove(i));
            }
            between(&name);
        }
        polls
    }
}
