//! openraft 0.9 with a minimal in-memory store (no serialization: entries
//! kept as they are) and an in-process network that calls the target
//! Raft directly: the least overhead openraft allows, to compare with.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex};

use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError};
use openraft::network::RPCOption;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, RaftLogReader, RaftNetwork, RaftNetworkFactory,
    RaftSnapshotBuilder, SnapshotMeta, StorageError, StoredMembership, Vote,
};

openraft::declare_raft_types!(
    /// A payload is bytes; the response is nothing.
    pub Cfg:
        D = Vec<u8>,
        R = (),
        Node = (),
);

pub type Raft = openraft::Raft<Cfg>;

// ---- log ------------------------------------------------------------------

#[derive(Default)]
struct LogInner {
    vote: Option<Vote<u64>>,
    committed: Option<LogId<u64>>,
    last_purged: Option<LogId<u64>>,
    log: BTreeMap<u64, Entry<Cfg>>,
}

#[derive(Clone, Default)]
pub struct LogStore(Arc<Mutex<LogInner>>);

impl RaftLogReader<Cfg> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<Cfg>>, StorageError<u64>> {
        let l = self.0.lock().unwrap();
        Ok(l.log.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<Cfg> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<Cfg>, StorageError<u64>> {
        let l = self.0.lock().unwrap();
        let last = l
            .log
            .values()
            .next_back()
            .map(|e| e.log_id)
            .or(l.last_purged);
        Ok(LogState {
            last_purged_log_id: l.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.0.lock().unwrap().vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.0.lock().unwrap().vote)
    }

    async fn save_committed(&mut self, c: Option<LogId<u64>>) -> Result<(), StorageError<u64>> {
        self.0.lock().unwrap().committed = c;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.0.lock().unwrap().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<Cfg>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<Cfg>> + Send,
        I::IntoIter: Send,
    {
        {
            let mut l = self.0.lock().unwrap();
            for e in entries {
                l.log.insert(e.log_id.index, e);
            }
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut l = self.0.lock().unwrap();
        l.log.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut l = self.0.lock().unwrap();
        let keep = l.log.split_off(&(log_id.index + 1));
        l.log = keep;
        l.last_purged = Some(log_id);
        Ok(())
    }
}

// ---- state machine: counts payload bytes -----------------------------------

#[derive(Default, Clone)]
struct SmInner {
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, ()>,
    sum: u64,
    snapshot: Option<(SnapshotMeta<u64, ()>, Vec<u8>)>,
    snapshot_seq: u64,
}

#[derive(Clone, Default)]
pub struct StateMachine(Arc<Mutex<SmInner>>);

impl RaftSnapshotBuilder<Cfg> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<Cfg>, StorageError<u64>> {
        let mut s = self.0.lock().unwrap();
        s.snapshot_seq += 1;
        let data = s.sum.to_le_bytes().to_vec();
        let meta = SnapshotMeta {
            last_log_id: s.last_applied,
            last_membership: s.membership.clone(),
            snapshot_id: format!("{}", s.snapshot_seq),
        };
        s.snapshot = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<Cfg> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, ()>), StorageError<u64>> {
        let s = self.0.lock().unwrap();
        Ok((s.last_applied, s.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<()>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<Cfg>> + Send,
        I::IntoIter: Send,
    {
        let mut s = self.0.lock().unwrap();
        let mut out = Vec::new();
        for e in entries {
            s.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(d) => s.sum += d.len() as u64,
                EntryPayload::Membership(m) => {
                    s.membership = StoredMembership::new(Some(e.log_id), m)
                }
            }
            out.push(());
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, ()>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let data = snapshot.into_inner();
        let mut s = self.0.lock().unwrap();
        s.sum = data
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .unwrap_or(0);
        s.last_applied = meta.last_log_id;
        s.membership = meta.last_membership.clone();
        s.snapshot = Some((meta.clone(), data));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<Cfg>>, StorageError<u64>> {
        let s = self.0.lock().unwrap();
        Ok(s.snapshot.as_ref().map(|(m, d)| Snapshot {
            meta: m.clone(),
            snapshot: Box::new(Cursor::new(d.clone())),
        }))
    }
}

// ---- network: call the target Raft directly --------------------------------

#[derive(Clone, Default)]
pub struct Router(pub Arc<Mutex<HashMap<u64, Raft>>>);

pub struct Conn {
    target: u64,
    router: Router,
}

impl Conn {
    fn raft(&self) -> Raft {
        self.router
            .0
            .lock()
            .unwrap()
            .get(&self.target)
            .cloned()
            .expect("target is up")
    }
}

impl RaftNetworkFactory<Cfg> for Router {
    type Network = Conn;

    async fn new_client(&mut self, target: u64, _node: &()) -> Conn {
        Conn {
            target,
            router: self.clone(),
        }
    }
}

impl RaftNetwork<Cfg> for Conn {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<Cfg>,
        _o: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, (), RaftError<u64>>> {
        self.raft()
            .append_entries(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<Cfg>,
        _o: RPCOption,
    ) -> Result<InstallSnapshotResponse<u64>, RPCError<u64, (), RaftError<u64, InstallSnapshotError>>>
    {
        self.raft()
            .install_snapshot(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        _o: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, (), RaftError<u64>>> {
        self.raft()
            .vote(rpc)
            .await
            .map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

/// Three nodes, initialized; returns them once node 1 leads.
pub async fn cluster() -> (Router, Vec<Raft>) {
    let config = Arc::new(openraft::Config::default().validate().unwrap());
    let router = Router::default();
    let mut rafts = Vec::new();
    for id in 1..=3u64 {
        let r = Raft::new(
            id,
            config.clone(),
            router.clone(),
            LogStore::default(),
            StateMachine::default(),
        )
        .await
        .unwrap();
        router.0.lock().unwrap().insert(id, r.clone());
        rafts.push(r);
    }
    let members: BTreeMap<u64, ()> = (1..=3).map(|i| (i, ())).collect();
    rafts[0].initialize(members).await.unwrap();
    rafts[0]
        .wait(Some(std::time::Duration::from_secs(10)))
        .current_leader(1, "node 1 leads")
        .await
        .unwrap();
    (router, rafts)
}
