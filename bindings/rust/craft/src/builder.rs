//! NodeBuilder: a node's options, its storage and transport, and the
//! create / bootstrap / start sequence.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use craft_sys as sys;

use crate::batteries::{StorageConfig, TransportConfig};
use crate::error::Error;
use crate::ffi::{RawNode, StorageArg, TransportArg};
use crate::node::Node;
use crate::traits::{StateMachine, Storage, Transport};
use crate::MemStorage;

/// The options a node is created with; None keeps the library's default.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeConfig {
    pub id: u64,
    pub tick_ms: Option<u32>,
    pub request_timeout_ms: Option<u32>,
    pub apply_queue_entries: Option<u32>,
    pub apply_queue_bytes: Option<u64>,
    pub peer_queue_messages: Option<u32>,
    pub peer_queue_bytes: Option<u64>,
    pub max_pending: Option<u32>,
    pub wait_leader: Option<bool>,
    pub wait_room: Option<bool>,
    pub election_ticks: Option<u32>,
    pub heartbeat_ticks: Option<u32>,
    pub pre_vote: Option<bool>,
    pub check_quorum: Option<bool>,
    pub lease_reads: Option<bool>,
    pub seed: Option<u64>,
    pub max_inflight: Option<u32>,
    pub snapshot_entries: Option<u64>,
    pub snapshot_bytes: Option<u64>,
    pub snapshot_trailing: Option<u64>,
    /// C trace level to ask for; 0: no trace callback.
    pub trace_level: i32,
    /// The trace goes to the C library's stderr printer
    /// (`craft_trace_stderr`) instead of `tracing`.
    pub trace_stderr: bool,
}

fn set<T: Copy>(dst: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *dst = v;
    }
}

impl NodeConfig {
    pub(crate) fn fill_engine(&self, e: &mut sys::craft_engine_options) {
        e.id = self.id;
        set(&mut e.election_ticks, self.election_ticks);
        set(&mut e.heartbeat_ticks, self.heartbeat_ticks);
        set(&mut e.pre_vote, self.pre_vote.map(i32::from));
        set(&mut e.check_quorum, self.check_quorum.map(i32::from));
        set(&mut e.lease_reads, self.lease_reads.map(i32::from));
        set(&mut e.seed, self.seed);
        set(&mut e.max_inflight, self.max_inflight);
        set(&mut e.snapshot_entries, self.snapshot_entries);
        set(&mut e.snapshot_bytes, self.snapshot_bytes);
        set(&mut e.snapshot_trailing, self.snapshot_trailing);
    }

    pub(crate) fn fill_node(&self, o: &mut sys::craft_node_options) {
        o.id = self.id;
        set(&mut o.tick_ms, self.tick_ms);
        set(&mut o.request_timeout_ms, self.request_timeout_ms);
        set(&mut o.apply_queue_entries, self.apply_queue_entries);
        set(&mut o.apply_queue_bytes, self.apply_queue_bytes);
        set(&mut o.peer_queue_messages, self.peer_queue_messages);
        set(&mut o.peer_queue_bytes, self.peer_queue_bytes);
        set(&mut o.max_pending, self.max_pending);
        set(&mut o.wait_leader, self.wait_leader.map(u32::from));
        set(&mut o.wait_room, self.wait_room.map(u32::from));
    }
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

/// Builds a [`Node`]: set a storage, a transport and the options, then
/// [`build`](NodeBuilder::build) with the state machine.
///
/// ```
/// use craft::{Hub, MemStorage, NodeBuilder};
/// # use craft::{BoxError, Entry, StateMachine};
/// # use std::io::{Read, Write};
/// # struct Nop;
/// # impl StateMachine for Nop {
/// #     fn apply(&mut self, _: Entry<'_>) -> Result<Vec<u8>, BoxError> { Ok(vec![]) }
/// #     fn snapshot(&mut self, _: &mut dyn Write) -> std::io::Result<()> { Ok(()) }
/// #     fn restore(&mut self, _: &mut dyn Read) -> std::io::Result<()> { Ok(()) }
/// # }
/// # fn main() -> Result<(), craft::Error> {
/// let hub = Hub::new()?;
/// let node = NodeBuilder::new(1)
///     .storage(MemStorage::new()?)
///     .transport(&hub)
///     .tick(std::time::Duration::from_millis(5))
///     .bootstrap(&[1])          // a new one-node cluster
///     .build(Nop)?;
/// assert_eq!(node.id(), 1);
/// # Ok(()) }
/// ```
pub struct NodeBuilder {
    cfg: NodeConfig,
    trace: bool,
    trace_stderr: Option<tracing::Level>,
    storage: Option<StorageArg>,
    transport: Option<TransportArg>,
    bootstrap: Option<Vec<u64>>,
    bootstrap_at: Option<Vec<(u64, String)>>,
}

impl NodeBuilder {
    /// A builder for server `id` (non-zero, unique in the cluster).
    pub fn new(id: u64) -> NodeBuilder {
        NodeBuilder {
            cfg: NodeConfig {
                id,
                ..NodeConfig::default()
            },
            trace: true,
            trace_stderr: None,
            storage: None,
            transport: None,
            bootstrap: None,
            bootstrap_at: None,
        }
    }

    /// One of the storage batteries ([`MemStorage`], the file storage).
    /// Without a storage the node gets a fresh [`MemStorage`] (nothing
    /// survives the node).
    pub fn storage(mut self, storage: impl Into<StorageConfig>) -> Self {
        self.storage = Some(storage.into().0);
        self
    }

    /// A storage of your own.
    pub fn custom_storage(mut self, storage: impl Storage) -> Self {
        self.storage = Some(StorageArg::User(Box::new(storage)));
        self
    }

    /// One of the transport batteries: a [`Hub`](crate::Hub) (in one
    /// process) or a [`TcpTransport`](crate::TcpTransport) made for this
    /// node's id. Required, unless
    /// [`custom_transport`](Self::custom_transport) is used.
    pub fn transport(mut self, transport: impl Into<TransportConfig>) -> Self {
        self.transport = Some(transport.into().0);
        self
    }

    /// A transport of your own.
    pub fn custom_transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(TransportArg::User(Box::new(transport)));
        self
    }

    /// Founds a new cluster of these voters (which must include this
    /// node) when the storage is empty; a node that loaded state (a
    /// restart) ignores it. Without it a new node waits to be added by a
    /// leader.
    pub fn bootstrap(mut self, voters: &[u64]) -> Self {
        self.bootstrap = Some(voters.to_vec());
        self
    }

    /// Like [`bootstrap`](Self::bootstrap), with each voter's address
    /// (e.g. `"127.0.0.1:7001"`, at most 255 bytes) stored in the first
    /// configuration, where transports that follow the membership (TCP)
    /// find their peers.
    pub fn bootstrap_at(mut self, members: &[(u64, &str)]) -> Self {
        self.bootstrap_at = Some(members.iter().map(|(id, a)| (*id, a.to_string())).collect());
        self
    }

    /// The length of one engine tick (default 10 ms); election timeouts
    /// and heartbeats are counted in ticks.
    pub fn tick(mut self, tick: Duration) -> Self {
        self.cfg.tick_ms = Some(millis(tick));
        self
    }

    /// Base election timeout in ticks (default 10; the actual one is
    /// random in `[e, 2e)`).
    pub fn election_ticks(mut self, ticks: u32) -> Self {
        self.cfg.election_ticks = Some(ticks);
        self
    }

    /// Leader heartbeat period in ticks (default 1; below the election
    /// timeout).
    pub fn heartbeat_ticks(mut self, ticks: u32) -> Self {
        self.cfg.heartbeat_ticks = Some(ticks);
        self
    }

    /// Pre-vote (thesis §9.6), default on.
    pub fn pre_vote(mut self, on: bool) -> Self {
        self.cfg.pre_vote = Some(on);
        self
    }

    /// A leader steps down without a live quorum, default on.
    pub fn check_quorum(mut self, on: bool) -> Self {
        self.cfg.check_quorum = Some(on);
        self
    }

    /// Serve reads from a leader lease (thesis §6.4.1) instead of a
    /// ReadIndex round; default off.
    pub fn lease_reads(mut self, on: bool) -> Self {
        self.cfg.lease_reads = Some(on);
        self
    }

    /// The engine's random seed (default: derived from the id).
    pub fn seed(mut self, seed: u64) -> Self {
        self.cfg.seed = Some(seed);
        self
    }

    /// Append messages in flight per peer (default 256).
    pub fn max_inflight(mut self, n: u32) -> Self {
        self.cfg.max_inflight = Some(n);
        self
    }

    /// Take a snapshot after this many applied entries (default 8192; 0:
    /// never by count).
    pub fn snapshot_entries(mut self, n: u64) -> Self {
        self.cfg.snapshot_entries = Some(n);
        self
    }

    /// Take a snapshot after this many applied payload bytes (default
    /// 64 MiB; 0: never by size).
    pub fn snapshot_bytes(mut self, n: u64) -> Self {
        self.cfg.snapshot_bytes = Some(n);
        self
    }

    /// Entries kept in the log after a snapshot (default 128).
    pub fn snapshot_trailing(mut self, n: u64) -> Self {
        self.cfg.snapshot_trailing = Some(n);
        self
    }

    /// The deadline of calls given [`Duration::ZERO`] (default 5 s).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.cfg.request_timeout_ms = Some(millis(t));
        self
    }

    /// Backpressure bound of the apply queue (default 8192 entries,
    /// 64 MiB).
    pub fn apply_queue(mut self, entries: u32, bytes: u64) -> Self {
        self.cfg.apply_queue_entries = Some(entries);
        self.cfg.apply_queue_bytes = Some(bytes);
        self
    }

    /// Per-peer send queue (default 1024 messages, 64 MiB).
    pub fn peer_queue(mut self, messages: u32, bytes: u64) -> Self {
        self.cfg.peer_queue_messages = Some(messages);
        self.cfg.peer_queue_bytes = Some(bytes);
        self
    }

    /// Proposals accepted and not completed before `propose` answers
    /// [`Error::Busy`] (default 65536).
    pub fn max_pending(mut self, n: u32) -> Self {
        self.cfg.max_pending = Some(n);
        self
    }

    /// Proposals and reads made while no leader is known (an election is
    /// going on) wait for one until their deadline instead of failing at
    /// once with [`Error::NotLeader`]. Default off.
    pub fn wait_leader(mut self, on: bool) -> Self {
        self.cfg.wait_leader = Some(on);
        self
    }

    /// Proposals made while `max_pending` are pending block until there
    /// is room (or their deadline: [`Error::TimedOut`]) instead of failing
    /// at once with [`Error::Busy`]; `propose_async` then blocks the
    /// calling thread while the node is full. Default off.
    pub fn wait_room(mut self, on: bool) -> Self {
        self.cfg.wait_room = Some(on);
        self
    }

    /// Re-emit the library's trace events through `tracing` (default on;
    /// they flow only when a subscriber is set when the node is built).
    pub fn trace(mut self, on: bool) -> Self {
        self.trace = on;
        self
    }

    /// Print the library's trace events of `level` and above on stderr
    /// with its own printer (`craft_trace_stderr`) instead of `tracing`:
    /// one line per event, no Rust code and no subscriber on the path.
    /// `TraceLevel::TRACE` prints the same events as `TraceLevel::DEBUG`.
    /// Overrides [`trace`](NodeBuilder::trace).
    ///
    /// ```text
    /// 2026-12-05T19:02:48.123456Z INFO  craft.engine leader.elected node_id=1 term=2 leader=1
    /// ```
    pub fn trace_stderr(mut self, level: crate::TraceLevel) -> Self {
        self.trace_stderr = Some(level);
        self
    }

    /// Creates the node (loading its stored state; restoring its snapshot
    /// into `fsm`), bootstraps it if asked and its storage was empty, and
    /// starts it.
    ///
    /// Errors: [`Error::Create`] (a bad option, no transport, a TCP
    /// transport made for another id or already used by a node, the
    /// storage failed to load), or the error of bootstrap or start.
    pub fn build<S: StateMachine>(self, fsm: S) -> Result<Node<S>, Error> {
        let create_err = |code: Error, message: &str| Error::Create {
            code: Box::new(code),
            message: message.to_string(),
        };
        let mut cfg = self.cfg;
        if cfg.id == 0 {
            return Err(create_err(Error::InvalidArgument, "node id 0"));
        }
        cfg.trace_level = if let Some(level) = self.trace_stderr {
            cfg.trace_stderr = true;
            crate::trace::c_level_of(level)
        } else if self.trace {
            crate::trace::c_level()
        } else {
            0
        };
        let storage = match self.storage {
            Some(s) => s,
            None => StorageArg::Mem(MemStorage::new()?.0),
        };
        let transport = self.transport.ok_or_else(|| {
            create_err(
                Error::InvalidArgument,
                "no transport: call NodeBuilder::transport",
            )
        })?;
        let transport = match transport {
            TransportArg::Hub(hub, 0) => TransportArg::Hub(hub, cfg.id),
            TransportArg::Hub(_, id) if id != cfg.id => return Err(create_err(
                Error::InvalidArgument,
                "the hub transport is another node's (Hub::transport(id) with id != the node's)",
            )),
            TransportArg::Tcp(t) if t.id() != cfg.id => {
                return Err(create_err(
                    Error::InvalidArgument,
                    &format!("the TCP transport was made for node {}", t.id()),
                ))
            }
            t => t,
        };
        let hub = match &transport {
            TransportArg::Hub(h, _) => Some(h.clone()),
            _ => None,
        };
        let fsm = Arc::new(Mutex::new(fsm));
        let raw = Arc::new(RawNode::create(&cfg, storage, transport, fsm.clone())?);
        if let Some(h) = &hub {
            raw.attach(h, cfg.id)?;
        }
        raw.attach_tcp()?;
        // From here on dropping `node` detaches and frees everything.
        let node = Node::new(raw, fsm, hub.map(|h| (h, cfg.id)));
        let founded = match (&self.bootstrap_at, &self.bootstrap) {
            (Some(m), _) => Some(node.raw().bootstrap_addr(m)),
            (None, Some(ids)) => Some(node.raw().bootstrap(ids)),
            (None, None) => None,
        };
        if let Some(r) = founded {
            match r {
                Ok(()) | Err(Error::State) => {} // State: it loaded state
                Err(e) => return Err(e),
            }
        }
        node.raw().start()?;
        Ok(node)
    }
}
