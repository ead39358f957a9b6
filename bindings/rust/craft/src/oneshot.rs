//! A one-value channel that can be waited on by blocking or awaited as a
//! future, completed from a C completion callback on the node's apply
//! thread. No runtime is needed: the waker is whatever the executor gave.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    /// A thread blocks in wait(): only then is the condvar signalled (a
    /// notify costs a system call, paid on the node's apply thread).
    blocked: bool,
}

struct Inner<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

/// The completing side: [`Sender::send`] once.
pub(crate) struct Sender<T>(Arc<Inner<T>>);

/// The waiting side: [`Receiver::wait`] or `.await`.
pub(crate) struct Receiver<T>(Arc<Inner<T>>);

pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        slot: Mutex::new(Slot {
            value: None,
            waker: None,
            blocked: false,
        }),
        ready: Condvar::new(),
    });
    (Sender(inner.clone()), Receiver(inner))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The slot holds plain data: a panic elsewhere cannot leave it torn.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Sender<T> {
    pub(crate) fn send(self, value: T) {
        let (waker, blocked) = {
            let mut slot = lock(&self.0.slot);
            slot.value = Some(value);
            (slot.waker.take(), slot.blocked)
        };
        if blocked {
            self.0.ready.notify_all();
        }
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Blocks until the value is sent.
    pub(crate) fn wait(self) -> T {
        let mut slot = lock(&self.0.slot);
        loop {
            if let Some(v) = slot.value.take() {
                return v;
            }
            slot.blocked = true;
            slot = self.0.ready.wait(slot).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// A receiver whose value is already there (a call refused at once).
    pub(crate) fn ready(value: T) -> Receiver<T> {
        let (tx, rx) = channel();
        tx.send(value);
        rx
    }
}

impl<T> Future for Receiver<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = lock(&self.0.slot);
        match slot.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                match &slot.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => slot.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}
