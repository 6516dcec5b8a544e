//! How the writer thread answers waiting appends.
//!
//! Every append waits on its own [`Reply`] slot. Waking a task from another
//! thread costs a system call and often a context switch for the runtime
//! that owns it; one group commit answers hundreds of appends at once. So a
//! runtime can have a [`Relay`]: a task on that runtime to which the writer
//! hands all of a batch's wake-ups with a single cross-thread wake, and
//! which then wakes them from inside the runtime, where a wake is a queue
//! push. Appends made without a relay are woken directly, one by one.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::AuditError;

/// What an append is answered with: its seq once durable, or why not.
pub(crate) type Answer = Result<u64, AuditError>;

#[derive(Debug, Default)]
struct SlotState {
    answer: Option<Answer>,
    waiter: Option<Waker>,
}

#[derive(Debug, Default)]
struct Slot(Mutex<SlotState>);

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer's side of one append: answered exactly once. Dropped
/// unanswered (the writer stopped), it answers `Unavailable` itself.
#[derive(Debug)]
pub(crate) struct Reply {
    slot: Arc<Slot>,
    relay: Option<Arc<Relay>>,
    answered: bool,
}

/// The appender's side: resolves to the answer.
#[derive(Debug)]
pub(crate) struct Pending {
    slot: Arc<Slot>,
}

/// A reply slot and the future that waits on it; the wake-up goes through
/// `relay` when there is one.
pub(crate) fn channel(relay: Option<Arc<Relay>>) -> (Reply, Pending) {
    let slot = Arc::new(Slot::default());
    (
        Reply {
            slot: Arc::clone(&slot),
            relay,
            answered: false,
        },
        Pending { slot },
    )
}

impl Reply {
    /// Stores the answer and returns the waiting task's waker, if it is
    /// waiting, with the relay to hand it to.
    fn store(&mut self, answer: Answer) -> Option<Waker> {
        self.answered = true;
        let mut state = self.slot.lock();
        state.answer = Some(answer);
        state.waiter.take()
    }

    /// Answers one append on its own (not part of a batch).
    pub(crate) fn send(mut self, answer: Answer) {
        if let Some(waker) = self.store(answer) {
            waker.wake();
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.answered
            && let Some(waker) =
                self.store(Err(AuditError::Unavailable("audit writer stopped".into())))
        {
            waker.wake();
        }
    }
}

impl Future for Pending {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let mut state = self.slot.lock();
        if let Some(answer) = state.answer.take() {
            return Poll::Ready(answer);
        }
        match &state.waiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// Answers for one batch, collected so that each relay is woken once.
#[derive(Default)]
pub(crate) struct Answers {
    /// Wake-ups by relay (a handful of runtimes at most: a short list).
    relayed: Vec<(Arc<Relay>, Vec<Waker>)>,
    direct: Vec<Waker>,
}

impl Answers {
    /// Records `answer` for `reply`; the task is woken by [`Self::wake_all`].
    pub(crate) fn answer(&mut self, mut reply: Reply, answer: Answer) {
        let Some(waker) = reply.store(answer) else {
            return;
        };
        match reply.relay.take() {
            Some(relay) => match self
                .relayed
                .iter_mut()
                .find(|(r, _)| Arc::ptr_eq(r, &relay))
            {
                Some((_, wakers)) => wakers.push(waker),
                None => self.relayed.push((relay, vec![waker])),
            },
            None => self.direct.push(waker),
        }
    }

    /// Wakes every answered task: one wake-up per relay, plus the direct ones.
    pub(crate) fn wake_all(self) {
        for (relay, wakers) in self.relayed {
            relay.hand_over(wakers);
        }
        for waker in self.direct {
            waker.wake();
        }
    }
}

#[derive(Debug, Default)]
struct RelayState {
    wakers: Vec<Waker>,
    task: Option<Waker>,
    /// False once the relay task is gone (its runtime shut down): wake-ups
    /// are then delivered directly.
    gone: bool,
}

/// Wake-ups waiting to be delivered inside one runtime.
#[derive(Debug, Default)]
pub(crate) struct Relay(Mutex<RelayState>);

impl Relay {
    fn lock(&self) -> std::sync::MutexGuard<'_, RelayState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A relay and the task that delivers its wake-ups; the task must be
    /// spawned on the runtime whose appends use the relay.
    pub(crate) fn new() -> (Arc<Self>, RelayTask) {
        let relay = Arc::new(Self::default());
        (Arc::clone(&relay), RelayTask { relay })
    }

    /// Queues `wakers` for the relay task and wakes it once.
    fn hand_over(&self, wakers: Vec<Waker>) {
        let mut state = self.lock();
        if state.gone {
            drop(state);
            wakers.into_iter().for_each(Waker::wake);
            return;
        }
        state.wakers.extend(wakers);
        let task = state.task.take();
        drop(state);
        if let Some(task) = task {
            task.wake();
        }
    }
}

/// The task that delivers a relay's wake-ups. It never finishes; when its
/// runtime drops it, the relay delivers directly from then on.
#[derive(Debug)]
pub(crate) struct RelayTask {
    relay: Arc<Relay>,
}

impl Future for RelayTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let wakers = {
            let mut state = self.relay.lock();
            state.task = Some(cx.waker().clone());
            std::mem::take(&mut state.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
        Poll::Pending
    }
}

impl Drop for RelayTask {
    fn drop(&mut self) {
        let wakers = {
            let mut state = self.relay.lock();
            state.gone = true;
            state.task = None;
            std::mem::take(&mut state.wakers)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_through_a_relay_answers_every_append() {
        let (relay, task) = Relay::new();
        tokio::spawn(task);
        let mut replies = Vec::new();
        let mut waiting = Vec::new();
        for _ in 0..100 {
            let (reply, pending) = channel(Some(Arc::clone(&relay)));
            replies.push(reply);
            waiting.push(tokio::spawn(pending));
        }
        // Let every append register its waker before the batch is answered.
        tokio::task::yield_now().await;
        let writer = std::thread::spawn(move || {
            let mut answers = Answers::default();
            for (seq, reply) in (0u64..).zip(replies) {
                answers.answer(reply, Ok(seq));
            }
            answers.wake_all();
        });
        for (seq, task) in (0u64..).zip(waiting) {
            assert_eq!(task.await.unwrap().unwrap(), seq);
        }
        writer.join().unwrap();
    }

    #[test]
    fn appends_are_answered_after_the_relays_runtime_is_gone() {
        let relay = {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let (relay, task) = Relay::new();
            rt.spawn(task);
            rt.block_on(tokio::task::yield_now());
            relay
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (reply, pending) = channel(Some(relay));
        let waiting = rt.spawn(pending);
        rt.block_on(tokio::task::yield_now());
        std::thread::spawn(move || {
            let mut answers = Answers::default();
            answers.answer(reply, Ok(7));
            answers.wake_all();
        })
        .join()
        .unwrap();
        assert_eq!(rt.block_on(waiting).unwrap().unwrap(), 7);
    }

    #[tokio::test]
    async fn a_reply_dropped_unanswered_says_the_writer_stopped() {
        let (reply, pending) = channel(None);
        let waiting = tokio::spawn(pending);
        tokio::task::yield_now().await;
        std::thread::spawn(move || drop(reply)).join().unwrap();
        let err = waiting.await.unwrap().unwrap_err();
        assert!(err.to_string().contains("audit writer stopped"), "{err}");
    }
}
