//! The parts a user supplies: the state machine, and optionally a storage
//! and a transport of their own (the C batteries cover the usual cases).

use std::io::{Read, Write};

use crate::error::{BoxError, Error};
use crate::ffi::Loader;

/// A committed log entry, handed to [`StateMachine::apply`].
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// Its log index.
    pub index: u64,
    /// The term it was proposed in.
    pub term: u64,
    /// The payload given to [`Node::propose`](crate::Node::propose).
    pub data: &'a [u8],
}

/// The replicated state machine.
///
/// Every method runs on the node's apply thread, one call at a time and in
/// log order, so the state machine needs no lock of its own. `restore` also
/// runs on the thread building the node when a snapshot was stored.
/// A panic in any method is caught at the boundary (never unwinding into
/// C), reported through `tracing` and the process's panic hook, and counts
/// as the method's error.
///
/// ```
/// use std::io::{Read, Write};
/// use craft::{BoxError, Entry, StateMachine};
///
/// /// A counter: each entry adds its first byte.
/// #[derive(Default)]
/// struct Counter(u64);
///
/// impl StateMachine for Counter {
///     fn apply(&mut self, e: Entry<'_>) -> Result<Vec<u8>, BoxError> {
///         self.0 += u64::from(*e.data.first().unwrap_or(&0));
///         Ok(self.0.to_le_bytes().to_vec())
///     }
///     fn snapshot(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
///         out.write_all(&self.0.to_le_bytes())
///     }
///     fn restore(&mut self, input: &mut dyn Read) -> std::io::Result<()> {
///         let mut b = [0u8; 8];
///         input.read_exact(&mut b)?;
///         self.0 = u64::from_le_bytes(b);
///         Ok(())
///     }
/// }
/// ```
pub trait StateMachine: Send + 'static {
    /// Applies a committed entry and returns the bytes its proposer gets
    /// back in [`Applied::data`](crate::Applied::data). Must be
    /// deterministic. An error still counts the entry as applied (it is
    /// committed); its proposer gets [`Error::Callback`].
    fn apply(&mut self, entry: Entry<'_>) -> Result<Vec<u8>, BoxError>;

    /// Writes the whole state as of the last applied entry. The node takes
    /// snapshots by its snapshot policy and on
    /// [`Node::trigger_snapshot`](crate::Node::trigger_snapshot), then
    /// compacts its log.
    fn snapshot(&mut self, out: &mut dyn Write) -> std::io::Result<()>;

    /// Replaces the whole state with a snapshot's: one stored at start,
    /// or one received from the leader.
    fn restore(&mut self, input: &mut dyn Read) -> std::io::Result<()>;
}

/// A storage of your own: where a node keeps its hard state, log and
/// snapshots. Most users take a battery instead ([`MemStorage`](crate::MemStorage)
/// or the file storage).
///
/// The node never calls two methods at once; `load` runs when the node is
/// built, the writes mostly on the driver thread. A failed write stops the
/// node (fail-stop: it can no longer keep Raft's promises). Every method
/// carries the contract of its `craft_storage_ops` counterpart in
/// `include/craft/node.h`; in short:
pub trait Storage: Send + 'static {
    /// Feeds the persisted state in: the hard state, then the latest
    /// snapshot's metadata if any, then the log entries in index order.
    /// An empty storage feeds nothing.
    fn load(&mut self, loader: &mut Loader<'_>) -> Result<(), Error>;
    /// Records `(term, vote)`, replacing the old one.
    fn save_hard_state(&mut self, term: u64, vote: u64) -> Result<(), Error>;
    /// Writes one log entry at `index` (the log after `index - 1`).
    /// `entry_type` is a `craft_entry_type` to store and give back to
    /// the loader as is.
    fn append(&mut self, index: u64, term: u64, entry_type: u32, data: &[u8]) -> Result<(), Error>;
    /// Deletes the log entries at `index` and after.
    fn truncate(&mut self, index: u64) -> Result<(), Error>;
    /// Makes every write so far durable. The default does nothing: writes
    /// are then taken as durable when they return.
    fn sync(&mut self) -> Result<(), Error> {
        Ok(())
    }
    /// Writes `data` at `offset` of the snapshot at `index` (`term`);
    /// offset 0 starts a new one. With `last`, the snapshot is complete:
    /// store `conf` (opaque membership bytes) with it and make it current;
    /// log entries up to `index` may then be dropped.
    #[allow(clippy::too_many_arguments)]
    fn snapshot_write(
        &mut self,
        index: u64,
        term: u64,
        offset: u64,
        data: &[u8],
        conf: &[u8],
        last: bool,
    ) -> Result<(), Error>;
    /// Copies bytes at `offset` of the current snapshot at `index` into
    /// `buf`; returns how many and whether they end the snapshot.
    /// [`Error::NotFound`] when that snapshot is gone.
    fn snapshot_read(
        &mut self,
        index: u64,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(usize, bool), Error>;
}

/// A transport of your own. `send` runs on the driver thread and must not
/// block: take the bytes (copy them) and return; delivery may still fail,
/// Raft retransmits. Return [`Error::Busy`] to have the node keep the
/// bytes and retry later, any other error to drop them. The receiving side
/// hands the bytes to its node with [`Node::receive`](crate::Node::receive)
/// or a [`Receiver`](crate::Receiver).
pub trait Transport: Send + 'static {
    /// Delivers `data` to node `peer`.
    fn send(&mut self, peer: u64, data: &[u8]) -> Result<(), Error>;
}
