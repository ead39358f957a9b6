//! Node: a running Raft server, and the futures of its calls.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::Error;
use crate::ffi::{self, lock, Change, Job, Outcome, RawHub, RawNode};
use crate::oneshot;
use crate::traits::StateMachine;
use crate::types::{hint, Applied, Receipt, Role, Status};

/// The completion of an asynchronous call: `.await` it (in any executor;
/// it is woken from the node's apply thread) or [`wait`](Pending::wait).
///
/// The call was already made when the `Pending` was returned; dropping it
/// does not cancel the call, only its result is lost.
#[must_use = "a Pending does nothing unless awaited or waited for; the call is made anyway"]
pub struct Pending<T>(oneshot::Receiver<Result<T, Error>>);

impl<T> Pending<T> {
    /// Blocks until the call completes. Returns [`Error::State`] at once
    /// when called inside one of a node's callbacks (it would wait for
    /// the thread it blocks).
    pub fn wait(self) -> Result<T, Error> {
        if ffi::in_callback() {
            return Err(Error::State);
        }
        self.0.wait()
    }

    fn start(f: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Result<(), Error>) -> Pending<T>
    where
        T: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // f hands tx to a job; when the call fails the job (and tx) is
        // dropped unsent and the error is the answer.
        match f(tx) {
            Ok(()) => Pending(rx),
            Err(e) => Pending(oneshot::Receiver::ready(Err(e))),
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

fn applied(o: Outcome) -> Applied {
    Applied {
        index: o.index,
        term: o.term,
        data: o.data,
    }
}

fn receipt(o: Outcome) -> Receipt {
    Receipt {
        index: o.index,
        term: o.term,
        leader: hint(o.leader),
    }
}

/// A job that sends the outcome, mapped, to `tx`.
fn send_job<T: Send + 'static>(
    tx: oneshot::Sender<Result<T, Error>>,
    map: fn(Outcome) -> T,
) -> Job {
    Box::new(move |o: Outcome| tx.send(o.into_result().map(map)))
}

type PanicPayload = Box<dyn Any + Send + 'static>;

/// A Raft server: the C node runtime (a driver thread stepping the engine,
/// an apply thread owning the state machine `S`) behind a safe handle.
///
/// `Node` is `Send + Sync`: every method may be called from any thread,
/// concurrently (the C contract), so share it with an `Arc`. Dropping it
/// detaches it from its hub, shuts it down (pending calls complete with
/// [`Error::Shutdown`]; committed entries already handed to the apply
/// thread are applied) and frees it.
///
/// The blocking methods ([`propose`](Node::propose), [`read`](Node::read),
/// the membership calls, [`status`](Node::status)) return
/// [`Error::State`] when called inside one of a node's callbacks; use the
/// `_async` flavours there, or better, do not call a node from its
/// callbacks.
///
/// ```
/// use craft::{Hub, MemStorage, NodeBuilder};
/// # use craft::{BoxError, Entry, StateMachine};
/// # use std::io::{Read, Write};
/// # #[derive(Default)] struct Sum(u64);
/// # impl StateMachine for Sum {
/// #     fn apply(&mut self, e: Entry<'_>) -> Result<Vec<u8>, BoxError> {
/// #         self.0 += e.data.len() as u64; Ok(self.0.to_le_bytes().to_vec()) }
/// #     fn snapshot(&mut self, o: &mut dyn Write) -> std::io::Result<()> { o.write_all(&self.0.to_le_bytes()) }
/// #     fn restore(&mut self, i: &mut dyn Read) -> std::io::Result<()> {
/// #         let mut b = [0; 8]; i.read_exact(&mut b)?; self.0 = u64::from_le_bytes(b); Ok(()) }
/// # }
/// use std::time::Duration;
/// # fn main() -> Result<(), craft::Error> {
/// let hub = Hub::new()?;
/// let nodes: Vec<_> = (1..=3)
///     .map(|id| {
///         NodeBuilder::new(id)
///             .storage(MemStorage::new()?)
///             .transport(&hub)
///             .tick(Duration::from_millis(5))
///             .bootstrap(&[1, 2, 3])
///             .build(Sum::default())
///     })
///     .collect::<Result<_, _>>()?;
///
/// // Propose to whoever leads; a follower answers NotLeader with a hint.
/// let mut target = 0;
/// let applied = loop {
///     match nodes[target].propose(b"hello", Duration::from_secs(5)) {
///         Ok(a) => break a,
///         Err(craft::Error::NotLeader { leader: Some(l) }) => target = (l - 1) as usize,
///         Err(_) => { target = (target + 1) % 3; std::thread::sleep(Duration::from_millis(20)); }
///     }
/// };
/// assert_eq!(applied.data, 5u64.to_le_bytes());
///
/// // A linearizable read runs the closure on the state machine.
/// let sum = nodes[target].read(|fsm: &Sum| fsm.0)?;
/// assert_eq!(sum, 5);
/// # Ok(()) }
/// ```
pub struct Node<S> {
    raw: Arc<RawNode>,
    fsm: Arc<Mutex<S>>,
    hub: Option<(Arc<RawHub>, u64)>,
}

impl<S: StateMachine> Node<S> {
    pub(crate) fn new(
        raw: Arc<RawNode>,
        fsm: Arc<Mutex<S>>,
        hub: Option<(Arc<RawHub>, u64)>,
    ) -> Node<S> {
        Node { raw, fsm, hub }
    }

    pub(crate) fn raw(&self) -> &RawNode {
        &self.raw
    }

    /// This server's id.
    pub fn id(&self) -> u64 {
        self.raw.id()
    }

    /// Its current role (a cheap read of the latest known state).
    pub fn role(&self) -> Role {
        self.raw.role()
    }

    /// True when it is the leader.
    pub fn is_leader(&self) -> bool {
        self.role() == Role::Leader
    }

    /// Its current term.
    pub fn term(&self) -> u64 {
        self.raw.term()
    }

    /// The leader it knows of.
    pub fn leader(&self) -> Option<u64> {
        self.raw.leader()
    }

    /// The last index its state machine applied.
    pub fn applied_index(&self) -> u64 {
        self.raw.applied_index()
    }

    /// Proposes `data` as one entry and blocks until it is committed and
    /// applied here (or fails). `timeout` is the deadline
    /// ([`Duration::ZERO`]: the node's default).
    ///
    /// Errors: [`Error::NotLeader`] with the leader hint, [`Error::Busy`]
    /// (too many pending, or a transfer in progress), [`Error::TimedOut`] /
    /// [`Error::SteppedDown`] (outcome unknown: it may still commit),
    /// [`Error::Lost`], [`Error::Callback`] (committed, but `apply`
    /// failed), [`Error::TooBig`], [`Error::Shutdown`], [`Error::Io`],
    /// [`Error::State`] (called inside a callback).
    pub fn propose(&self, data: &[u8], timeout: Duration) -> Result<Applied, Error> {
        if ffi::in_callback() {
            return Err(Error::State);
        }
        self.raw.propose_wait(data, timeout).map(applied)
    }

    /// Proposes `data` and returns at once; the returned future completes
    /// like [`propose`](Node::propose). Needs no particular async
    /// runtime. The data is copied before this returns.
    pub fn propose_async(&self, data: &[u8], timeout: Duration) -> Pending<Applied> {
        Pending::start(|tx| self.raw.propose(data, timeout, send_job(tx, applied)))
    }

    /// A linearizable read (thesis §6.4): once this node's state machine
    /// has applied everything committed before the call, runs `f` on it
    /// (on the apply thread, in order with the applies) and returns what
    /// `f` returned. Uses the node's default deadline.
    ///
    /// Errors: [`Error::NotLeader`] (no leader known), [`Error::SteppedDown`],
    /// [`Error::TimedOut`], [`Error::Shutdown`], [`Error::Io`],
    /// [`Error::State`]. A panic in `f` is re-raised here, on the caller's
    /// thread.
    pub fn read<R, F>(&self, f: F) -> Result<R, Error>
    where
        F: FnOnce(&S) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.read_timeout(Duration::ZERO, f)
    }

    /// [`read`](Node::read) with a deadline.
    pub fn read_timeout<R, F>(&self, timeout: Duration, f: F) -> Result<R, Error>
    where
        F: FnOnce(&S) -> R + Send + 'static,
        R: Send + 'static,
    {
        if ffi::in_callback() {
            return Err(Error::State);
        }
        match self.start_read(timeout, f).wait() {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(panic)) => resume_unwind(panic),
            Err(e) => Err(e),
        }
    }

    /// [`read`](Node::read) as a future. A panic in `f` becomes
    /// [`Error::Panicked`].
    pub fn read_async<R, F>(
        &self,
        timeout: Duration,
        f: F,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static
    where
        F: FnOnce(&S) -> R + Send + 'static,
        R: Send + 'static,
    {
        let pending = self.start_read(timeout, f);
        async move {
            match pending.await {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(panic)) => Err(Error::Panicked(ffi::panic_message(panic.as_ref()))),
                Err(e) => Err(e),
            }
        }
    }

    fn start_read<R, F>(
        &self,
        timeout: Duration,
        f: F,
    ) -> oneshot::Receiver<Result<Result<R, PanicPayload>, Error>>
    where
        F: FnOnce(&S) -> R + Send + 'static,
        R: Send + 'static,
    {
        let fsm = self.fsm.clone();
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |o: Outcome| match o.into_result() {
            // On the apply thread, between two applies: the state machine
            // is ours for the closure's length.
            Ok(_) => tx.send(Ok(catch_unwind(AssertUnwindSafe(|| f(&lock(&fsm)))))),
            Err(e) => tx.send(Err(e)),
        });
        match self.raw.read(timeout, job) {
            Ok(()) => rx,
            Err(e) => oneshot::Receiver::ready(Err(e)),
        }
    }

    /// [`add_peer`](Node::add_peer) with the new server's address (at
    /// most 255 bytes, e.g. `"127.0.0.1:7004"`), stored with it in the
    /// membership for transports that follow it.
    pub fn add_peer_at(
        &self,
        peer: u64,
        address: &str,
        timeout: Duration,
    ) -> Result<Receipt, Error> {
        self.change(Change::AddPeerAt(address.to_string()), peer, timeout)
            .wait()
    }

    /// [`add_learner`](Node::add_learner) with the new server's address.
    pub fn add_learner_at(
        &self,
        peer: u64,
        address: &str,
        timeout: Duration,
    ) -> Result<Receipt, Error> {
        self.change(Change::AddLearnerAt(address.to_string()), peer, timeout)
            .wait()
    }

    /// The node's current membership (members with roles and addresses;
    /// progress, commit, last and snapshot fields 0) and its version,
    /// without waiting for the driver: callable anywhere, also inside a
    /// callback.
    pub fn membership(&self) -> Result<(Status, u64), Error> {
        self.raw.membership()
    }

    /// A number that grows with every membership change (0: no
    /// membership yet). Cheap to poll.
    pub fn membership_version(&self) -> u64 {
        self.raw.membership_version()
    }

    fn change(&self, what: Change, peer: u64, timeout: Duration) -> Pending<Receipt> {
        Pending::start(|tx| self.raw.change(what, peer, timeout, send_job(tx, receipt)))
    }

    /// Adds `peer` as a learner, then promotes it to voter once it caught
    /// up (thesis §4.2.1); returns once it is a voter. On the leader.
    ///
    /// Errors: [`Error::NotLeader`], [`Error::Busy`] (another change in
    /// progress: retry), [`Error::Exists`], [`Error::TimedOut`] (the
    /// deadline, or it did not catch up), [`Error::SteppedDown`],
    /// [`Error::Shutdown`].
    pub fn add_peer(&self, peer: u64, timeout: Duration) -> Result<Receipt, Error> {
        self.change(Change::AddPeer, peer, timeout).wait()
    }

    /// [`add_peer`](Node::add_peer) as a future.
    pub fn add_peer_async(&self, peer: u64, timeout: Duration) -> Pending<Receipt> {
        self.change(Change::AddPeer, peer, timeout)
    }

    /// Adds `peer` as a non-voting learner. Errors as for
    /// [`add_peer`](Node::add_peer).
    pub fn add_learner(&self, peer: u64, timeout: Duration) -> Result<Receipt, Error> {
        self.change(Change::AddLearner, peer, timeout).wait()
    }

    /// Promotes learner `peer` to voter once it caught up. Errors as for
    /// [`add_peer`](Node::add_peer), plus [`Error::UnknownPeer`].
    pub fn promote_learner(&self, peer: u64, timeout: Duration) -> Result<Receipt, Error> {
        self.change(Change::Promote, peer, timeout).wait()
    }

    /// Removes voter or learner `peer` (which may be this node). Errors
    /// as for [`add_peer`](Node::add_peer), plus [`Error::UnknownPeer`]
    /// and [`Error::InvalidArgument`] (the last voter).
    pub fn remove_peer(&self, peer: u64, timeout: Duration) -> Result<Receipt, Error> {
        self.change(Change::Remove, peer, timeout).wait()
    }

    /// [`remove_peer`](Node::remove_peer) as a future.
    pub fn remove_peer_async(&self, peer: u64, timeout: Duration) -> Pending<Receipt> {
        self.change(Change::Remove, peer, timeout)
    }

    /// Hands leadership to voter `peer` (thesis §3.10); returns once it
    /// took over ([`Receipt::leader`] is `peer`). Errors:
    /// [`Error::TimedOut`] (it did not within an election timeout),
    /// [`Error::NotLeader`], [`Error::UnknownPeer`], [`Error::Busy`],
    /// [`Error::SteppedDown`], [`Error::Shutdown`].
    pub fn transfer_leadership(&self, peer: u64, timeout: Duration) -> Result<Receipt, Error> {
        self.change(Change::Transfer, peer, timeout).wait()
    }

    /// Takes a snapshot now and compacts the log; returns the snapshot's
    /// index and term. [`Error::State`] when nothing was applied since
    /// the last one; [`Error::Callback`] when
    /// [`StateMachine::snapshot`] failed.
    pub fn trigger_snapshot(&self, timeout: Duration) -> Result<Receipt, Error> {
        Pending::start(|tx| self.raw.trigger_snapshot(timeout, send_job(tx, receipt))).wait()
    }

    /// A consistent copy of the node's state, made by its driver thread
    /// between two steps.
    pub fn status(&self) -> Result<Status, Error> {
        if ffi::in_callback() {
            return Err(Error::State);
        }
        self.raw.status()
    }

    /// Every metric in the Prometheus text format, labelled with the
    /// node's id.
    pub fn metrics_text(&self) -> String {
        self.raw.metrics_text()
    }

    /// Every metric as (Prometheus name, value), e.g.
    /// `("craft_proposals_total", 42)`.
    pub fn metrics(&self) -> Vec<(String, u64)> {
        self.raw.metrics()
    }

    /// The node's last detailed error message ("" when none), e.g. which
    /// storage call failed.
    pub fn last_error(&self) -> String {
        self.raw.errmsg()
    }

    /// Hands bytes a peer sent (through a transport of your own) to this
    /// node. They are copied. Errors: [`Error::Busy`] (inbox full: the
    /// bytes were dropped), [`Error::TooBig`], [`Error::Shutdown`].
    pub fn receive(&self, data: &[u8]) -> Result<(), Error> {
        self.raw.receive(data)
    }

    /// A cheap, cloneable handle that only [`receive`](Inbox::receive)s,
    /// for a transport of your own to deliver to this node.
    pub fn inbox(&self) -> Inbox {
        Inbox(self.raw.clone())
    }

    /// Shuts the node down now: new calls fail with [`Error::Shutdown`],
    /// pending ones complete with it, the threads are joined. Dropping
    /// the node does this too.
    pub fn shutdown(&self) -> Result<(), Error> {
        if ffi::in_callback() {
            return Err(Error::State);
        }
        self.raw.shutdown()
    }
}

impl<S> Drop for Node<S> {
    fn drop(&mut self) {
        if let Some((hub, id)) = self.hub.take() {
            // Before the node goes: the hub waits for sends in progress
            // towards it. A failure leaves a stale attachment the next
            // node of this id replaces.
            let _ = hub.detach(id);
        }
        // The last reference to the RawNode (an Inbox may hold another)
        // shuts the node down and frees it.
    }
}

impl<S> std::fmt::Debug for Node<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.raw.id())
            .finish_non_exhaustive()
    }
}

/// Hands received bytes to one node; see [`Node::inbox`]. Holding an
/// `Inbox` keeps the C node allocated (not running) after its `Node` was
/// dropped: it then answers [`Error::Shutdown`].
#[derive(Clone)]
pub struct Inbox(Arc<RawNode>);

impl Inbox {
    /// As [`Node::receive`].
    pub fn receive(&self, data: &[u8]) -> Result<(), Error> {
        self.0.receive(data)
    }

    /// The node's id.
    pub fn id(&self) -> u64 {
        self.0.id()
    }
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").field("id", &self.0.id()).finish()
    }
}
