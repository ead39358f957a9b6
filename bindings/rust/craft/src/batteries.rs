//! The C library's ready-made parts as Rust types: storages and
//! transports to give a [`NodeBuilder`](crate::NodeBuilder).

use std::sync::Arc;

use crate::error::Error;
use crate::ffi::{RawHub, RawMemStorage, StorageArg, TransportArg};

/// A storage for [`NodeBuilder::storage`](crate::NodeBuilder::storage):
/// made from a battery with `.into()`.
pub struct StorageConfig(pub(crate) StorageArg);

/// A transport for [`NodeBuilder::transport`](crate::NodeBuilder::transport):
/// made from a battery with `.into()`.
pub struct TransportConfig(pub(crate) TransportArg);

/// The library's in-memory storage (`craft_mem_storage`): for tests and
/// benchmarks. Not durable across processes, but it outlives the nodes
/// that use it: build a new node from a clone of the same `MemStorage` to
/// restart one. Clones share the storage; it is freed with the last clone
/// and the last node using it.
///
/// ```
/// let ms = craft::MemStorage::new()?;
/// assert_eq!(ms.last_index(), 0);
/// # Ok::<(), craft::Error>(())
/// ```
#[derive(Clone)]
pub struct MemStorage(pub(crate) Arc<RawMemStorage>);

impl MemStorage {
    /// An empty storage.
    pub fn new() -> Result<MemStorage, Error> {
        Ok(MemStorage(Arc::new(RawMemStorage::new()?)))
    }

    /// Makes every later write fail with `error` (to test a node's
    /// fail-stop); `None` clears it.
    pub fn fail_writes(&self, error: Option<Error>) -> Result<(), Error> {
        self.0.fail(error.map(|e| e.code()).unwrap_or(0))
    }

    /// The last log index it holds.
    pub fn last_index(&self) -> u64 {
        self.0.numbers().0
    }

    /// The index its snapshot covers (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.0.numbers().1
    }

    /// The stored term.
    pub fn term(&self) -> u64 {
        self.0.numbers().2
    }

    /// The stored vote (0: none).
    pub fn vote(&self) -> u64 {
        self.0.numbers().3
    }

    /// Syncs made so far.
    pub fn syncs(&self) -> u64 {
        self.0.numbers().4
    }
}

impl From<MemStorage> for StorageConfig {
    fn from(ms: MemStorage) -> StorageConfig {
        StorageConfig(StorageArg::Mem(ms.0))
    }
}

impl From<&MemStorage> for StorageConfig {
    fn from(ms: &MemStorage) -> StorageConfig {
        StorageConfig(StorageArg::Mem(ms.0.clone()))
    }
}

/// The library's in-process transport (`craft_hub`): a switch between the
/// nodes of one process, with links that tests can cut. Give `&hub` to
/// [`NodeBuilder::transport`](crate::NodeBuilder::transport): the node is
/// attached under its id when built and detached when dropped. Clones
/// share the hub; it is freed with the last clone and the last node.
#[derive(Clone)]
pub struct Hub(pub(crate) Arc<RawHub>);

impl Hub {
    /// A hub with no node attached.
    pub fn new() -> Result<Hub, Error> {
        Ok(Hub(Arc::new(RawHub::new()?)))
    }

    /// Cuts (`isolated`) or restores every link to and from node `id`.
    pub fn isolate(&self, id: u64, isolated: bool) -> Result<(), Error> {
        self.0.isolate(id, isolated)
    }

    /// Cuts (`up == false`) or restores the one-way link `from -> to`;
    /// 0 means every node.
    pub fn set_link(&self, from: u64, to: u64, up: bool) -> Result<(), Error> {
        self.0.set_link(from, to, up)
    }

    /// Makes sends to `id` answer busy: a peer that does not keep up.
    pub fn set_busy(&self, id: u64, busy: bool) -> Result<(), Error> {
        self.0.set_busy(id, busy)
    }

    /// Messages delivered so far.
    pub fn delivered(&self) -> u64 {
        self.0.counts().0
    }

    /// Messages lost so far (cut link, nobody attached, receive error).
    pub fn lost(&self) -> u64 {
        self.0.counts().1
    }
}

impl From<&Hub> for TransportConfig {
    fn from(hub: &Hub) -> TransportConfig {
        TransportConfig(TransportArg::Hub(hub.0.clone(), 0))
    }
}

impl From<Hub> for TransportConfig {
    fn from(hub: Hub) -> TransportConfig {
        TransportConfig(TransportArg::Hub(hub.0, 0))
    }
}
