//! The C library's ready-made parts as Rust types: storages and
//! transports to give a [`NodeBuilder`](crate::NodeBuilder).

use std::sync::Arc;

use crate::error::Error;
use crate::ffi::{
    FileOptions, RawFileStorage, RawHub, RawMemStorage, RawTcp, StorageArg, TcpOptions,
    TransportArg,
};

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

    /// Simulates a power loss: forgets every write since the last sync and
    /// fails every later write with [`Error::Io`] until
    /// [`fail_writes(None)`](MemStorage::fail_writes). Drop the node,
    /// clear the failure and build a new node from this storage: a
    /// restart after the crash.
    pub fn crash(&self) -> Result<(), Error> {
        self.0.crash()
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

/// How a [`FileStorage`] makes writes durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// `write()`, then `fdatasync()` at each sync (the default).
    Fdatasync,
    /// Files opened `O_DSYNC`.
    Dsync,
    /// Log segments opened `O_DIRECT | O_DSYNC` (not on tmpfs).
    Direct,
    /// No sync at all: a power loss loses acknowledged writes and breaks
    /// Raft's safety. Never in production; for tests and benchmarks.
    NoneUnsafeForTests,
}

/// The library's file storage (`craft_file_storage`): a node's durable
/// state in a data directory (checksummed segmented log, two-slot hard
/// state, atomic snapshot files, torn-tail recovery; see
/// `include/craft/storage.h`). The directory is locked while open: one
/// node at a time. Clones share the open storage; it is closed with the
/// last clone and the last node using it. To restart a node, build a new
/// one from the same `FileStorage`, or drop everything and open the
/// directory again.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("craft-doc-{}", std::process::id()));
/// let fs = craft::FileStorage::open(&dir)?;
/// drop(fs);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), craft::Error>(())
/// ```
#[derive(Clone)]
pub struct FileStorage(pub(crate) Arc<RawFileStorage>);

impl FileStorage {
    /// Opens (creating it when missing) the data directory `dir` with the
    /// default options, and recovers its state.
    ///
    /// Errors as [`Error::Create`] with the library's message:
    /// `Busy` (another storage holds the directory), `Corrupt` (damage
    /// that is not a torn tail), `State` (another node's directory),
    /// `Version`, `Io`.
    pub fn open(dir: impl AsRef<std::path::Path>) -> Result<FileStorage, Error> {
        FileStorage::options().open(dir)
    }

    /// Options for [`FileStorageOptions::open`].
    pub fn options() -> FileStorageOptions {
        FileStorageOptions(FileOptions {
            trace_level: crate::trace::c_level(),
            ..FileOptions::default()
        })
    }

    /// The storage's last detailed error message ("" when none).
    pub fn last_error(&self) -> String {
        self.0.errmsg()
    }
}

/// Options of a [`FileStorage`]; [`FileStorage::options`] makes one.
#[derive(Debug, Clone)]
pub struct FileStorageOptions(FileOptions);

impl FileStorageOptions {
    /// How writes are made durable (default [`SyncMode::Fdatasync`]).
    pub fn sync_mode(mut self, mode: SyncMode) -> Self {
        self.0.sync_mode = Some(match mode {
            SyncMode::Fdatasync => 1,
            SyncMode::Dsync => 2,
            SyncMode::Direct => 3,
            SyncMode::NoneUnsafeForTests => 4,
        });
        self
    }

    /// Size of a log segment file (4 KiB .. 1 GiB; default 64 MiB).
    pub fn segment_bytes(mut self, n: u64) -> Self {
        self.0.segment_bytes = Some(n);
        self
    }

    /// Reserve each segment's whole size when created (default on).
    pub fn preallocate(mut self, on: bool) -> Self {
        self.0.preallocate = Some(on);
        self
    }

    /// Cluster and node ids written into a new directory and checked on
    /// every open (0: do not check).
    pub fn ids(mut self, cluster_id: u64, node_id: u64) -> Self {
        self.0.cluster_id = Some(cluster_id);
        self.0.node_id = Some(node_id);
        self
    }

    /// Opens the data directory `dir`; see [`FileStorage::open`].
    pub fn open(self, dir: impl AsRef<std::path::Path>) -> Result<FileStorage, Error> {
        match RawFileStorage::open(dir.as_ref(), &self.0) {
            Ok(raw) => Ok(FileStorage(Arc::new(raw))),
            Err((code, message)) => Err(Error::Create {
                code: Box::new(code),
                message,
            }),
        }
    }
}

impl From<FileStorage> for StorageConfig {
    fn from(fs: FileStorage) -> StorageConfig {
        StorageConfig(StorageArg::File(fs.0))
    }
}

impl From<&FileStorage> for StorageConfig {
    fn from(fs: &FileStorage) -> StorageConfig {
        StorageConfig(StorageArg::File(fs.0.clone()))
    }
}

/// The library's TCP transport (`craft_tcp`, `include/craft/tcp.h`): it
/// listens on one address, keeps one connection to each peer and hands
/// what arrives to its node. It listens from creation on, so its address
/// is known before the node exists. Peers' addresses come from the
/// node's membership (give them with
/// [`NodeBuilder::bootstrap_at`](crate::NodeBuilder::bootstrap_at) and
/// [`Node::add_peer_at`](crate::Node::add_peer_at)) and can be overridden
/// with [`set_peer`](TcpTransport::set_peer). Sending never blocks: a
/// message that does not fit a peer's queue is dropped (Raft
/// retransmits); a lost connection is retried with backoff.
///
/// One node at a time uses it, the one whose id it was made for; give
/// `&transport` to [`NodeBuilder::transport`](crate::NodeBuilder::transport).
/// Clones share it; it closes with the last clone and the last node
/// using it. No authentication: anyone who reaches the port and knows
/// the cluster id can speak for any server, so run it on a trusted
/// network.
///
/// ```
/// let t = craft::TcpTransport::options().cluster_id(7).create(1)?;
/// assert!(t.port() > 0);
/// assert_eq!(t.local_addr(), format!("127.0.0.1:{}", t.port()));
/// # Ok::<(), craft::Error>(())
/// ```
#[derive(Clone)]
pub struct TcpTransport(pub(crate) Arc<RawTcp>);

impl TcpTransport {
    /// A transport for node `id` listening on `listen` ("host:port"; port
    /// 0 picks a free one), cluster id 0, the other options at their
    /// defaults. See [`TcpTransportOptions::create`] for the errors.
    pub fn new(id: u64, listen: &str) -> Result<TcpTransport, Error> {
        TcpTransport::options().listen(listen).create(id)
    }

    /// Options for [`TcpTransportOptions::create`].
    pub fn options() -> TcpTransportOptions {
        TcpTransportOptions {
            o: TcpOptions {
                trace_level: crate::trace::c_level(),
                ..TcpOptions::default()
            },
        }
    }

    /// The node id it serves.
    pub fn id(&self) -> u64 {
        self.0.id()
    }

    /// The port it listens on (the one picked for port 0).
    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// "host:port" as listened on: the listen host with the bound port.
    pub fn local_addr(&self) -> String {
        let listen = self.0.listen();
        let host = listen.rsplit_once(':').map(|(h, _)| h).unwrap_or(listen);
        format!("{host}:{}", self.port())
    }

    /// Overrides the address of `peer` ("host:port"), taking precedence
    /// over the membership's; `None` removes the override. Errors:
    /// `InvalidArgument` (id 0 or this node's, a malformed address),
    /// `TooBig`.
    pub fn set_peer(&self, peer: u64, addr: Option<&str>) -> Result<(), Error> {
        self.0.set_peer(peer, addr)
    }

    /// The ids of the peers it knows (members, overrides, servers that
    /// connected), in no particular order.
    pub fn peers(&self) -> Vec<u64> {
        self.0.peers()
    }

    /// Counters and gauges by name (`craft_tcp_bytes_out_total`,
    /// `craft_tcp_connected`, ...) for `peer`, or summed over every peer
    /// with 0.
    pub fn metrics(&self, peer: u64) -> Vec<(String, u64)> {
        self.0.metrics(peer)
    }

    /// One metric by name (see [`metrics`](TcpTransport::metrics)).
    pub fn metric(&self, peer: u64, name: &str) -> Option<u64> {
        self.metrics(peer)
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("id", &self.id())
            .field("addr", &self.local_addr())
            .finish()
    }
}

fn ms(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

/// Options of a [`TcpTransport`]; [`TcpTransport::options`] makes one.
/// Each has the C library's default until set.
#[derive(Debug, Clone)]
pub struct TcpTransportOptions {
    o: TcpOptions,
}

impl TcpTransportOptions {
    /// Every server of a cluster uses the same; a peer with another is
    /// refused at the handshake (default 0).
    pub fn cluster_id(mut self, id: u64) -> Self {
        self.o.cluster_id = id;
        self
    }

    /// "host:port" to listen on (an IPv4 literal, a host name or
    /// "[IPv6]"); port 0 picks a free one. Default "127.0.0.1:0".
    pub fn listen(mut self, addr: &str) -> Self {
        self.o.listen = Some(addr.to_string());
        self
    }

    /// The address announced to peers this transport connects to, for
    /// servers that do not have this one in their membership yet
    /// (default: the listen address, none for a wildcard host; "" for
    /// none).
    pub fn advertise(mut self, addr: &str) -> Self {
        self.o.advertise = Some(addr.to_string());
        self
    }

    /// The largest message accepted or sent (default and maximum 256 MiB).
    pub fn max_frame_bytes(mut self, n: u32) -> Self {
        self.o.max_frame_bytes = Some(n);
        self
    }

    /// A peer's send queue bounds (default 1024 messages, 64 MiB).
    pub fn queue(mut self, messages: u32, bytes: u64) -> Self {
        self.o.queue_messages = Some(messages);
        self.o.queue_bytes = Some(bytes);
        self
    }

    /// To connect and complete the handshake (default 3 s).
    pub fn connect_timeout(mut self, d: std::time::Duration) -> Self {
        self.o.connect_timeout_ms = Some(ms(d));
        self
    }

    /// Delay before reconnecting after a failure: doubles from `min` to
    /// `max`, with jitter (default 20 ms, 2 s).
    pub fn backoff(mut self, min: std::time::Duration, max: std::time::Duration) -> Self {
        self.o.backoff_ms = Some((ms(min), ms(max)));
        self
    }

    /// An inbound connection that stalls mid-frame this long is closed
    /// (default 10 s).
    pub fn stall_timeout(mut self, d: std::time::Duration) -> Self {
        self.o.stall_timeout_ms = Some(ms(d));
        self
    }

    /// Seed of the reconnection jitter (default: from the id and the
    /// clock).
    pub fn seed(mut self, seed: u64) -> Self {
        self.o.seed = seed;
        self
    }

    /// Creates the transport of node `id` and starts listening. Its
    /// trace events (target `craft::transport`) flow when a `tracing`
    /// subscriber is set at this call.
    ///
    /// Errors as [`Error::Create`] with a message: `InvalidArgument` (id
    /// 0, a malformed address, an option out of range), `Io` (the
    /// address cannot be resolved or bound, e.g. in use), `NoMemory`.
    pub fn create(self, id: u64) -> Result<TcpTransport, Error> {
        match RawTcp::create(id, &self.o) {
            Ok(raw) => Ok(TcpTransport(Arc::new(raw))),
            Err((code, message)) => Err(Error::Create {
                code: Box::new(code),
                message,
            }),
        }
    }
}

impl From<&TcpTransport> for TransportConfig {
    fn from(t: &TcpTransport) -> TransportConfig {
        TransportConfig(TransportArg::Tcp(t.0.clone()))
    }
}

impl From<TcpTransport> for TransportConfig {
    fn from(t: TcpTransport) -> TransportConfig {
        TransportConfig(TransportArg::Tcp(t.0))
    }
}
