//! A storage and a transport written in Rust, through the traits.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, Kv};
use craft::{Error, Inbox, Loader, Node, NodeBuilder, Storage, Transport};

/// What survives a "crash": shared with the test through an Arc.
#[derive(Default)]
struct Disk {
    term: u64,
    vote: u64,
    /// (index, term, type, data), contiguous after the snapshot.
    log: Vec<(u64, u64, u32, Vec<u8>)>,
    /// The current snapshot: (index, term, conf, bytes).
    snapshot: Option<(u64, u64, Vec<u8>, Vec<u8>)>,
    /// One being received.
    incoming: Vec<u8>,
    syncs: u64,
}

#[derive(Clone, Default)]
struct RustStorage(Arc<Mutex<Disk>>);

impl Storage for RustStorage {
    fn load(&mut self, loader: &mut Loader<'_>) -> Result<(), Error> {
        let d = self.0.lock().unwrap();
        if d.term == 0 && d.log.is_empty() && d.snapshot.is_none() {
            return Ok(());
        }
        loader.hard_state(d.term, d.vote)?;
        if let Some((i, t, conf, _)) = &d.snapshot {
            loader.snapshot(*i, *t, conf)?;
        }
        let after = d.snapshot.as_ref().map(|s| s.0).unwrap_or(0);
        for (i, t, ty, data) in d.log.iter().filter(|e| e.0 > after) {
            loader.entry(*i, *t, *ty, data)?;
        }
        Ok(())
    }

    fn save_hard_state(&mut self, term: u64, vote: u64) -> Result<(), Error> {
        let mut d = self.0.lock().unwrap();
        d.term = term;
        d.vote = vote;
        Ok(())
    }

    fn append(&mut self, index: u64, term: u64, ty: u32, data: &[u8]) -> Result<(), Error> {
        let mut d = self.0.lock().unwrap();
        d.log.retain(|e| e.0 < index);
        d.log.push((index, term, ty, data.to_vec()));
        Ok(())
    }

    fn truncate(&mut self, index: u64) -> Result<(), Error> {
        self.0.lock().unwrap().log.retain(|e| e.0 < index);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), Error> {
        self.0.lock().unwrap().syncs += 1;
        Ok(())
    }

    fn snapshot_write(
        &mut self,
        index: u64,
        term: u64,
        offset: u64,
        data: &[u8],
        conf: &[u8],
        last: bool,
    ) -> Result<(), Error> {
        let mut d = self.0.lock().unwrap();
        if offset == 0 {
            d.incoming.clear();
        }
        if d.incoming.len() as u64 != offset {
            return Err(Error::InvalidArgument);
        }
        d.incoming.extend_from_slice(data);
        if last {
            if d.snapshot.as_ref().is_some_and(|s| s.0 >= index) {
                return Ok(());
            }
            let bytes = std::mem::take(&mut d.incoming);
            d.snapshot = Some((index, term, conf.to_vec(), bytes));
            d.log.retain(|e| e.0 > index);
        }
        Ok(())
    }

    fn snapshot_read(
        &mut self,
        index: u64,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(usize, bool), Error> {
        let d = self.0.lock().unwrap();
        match &d.snapshot {
            Some((i, _, _, bytes)) if *i == index => {
                let start = (offset as usize).min(bytes.len());
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                Ok((n, start + n == bytes.len()))
            }
            _ => Err(Error::NotFound),
        }
    }
}

/// Delivers through a shared table of inboxes.
#[derive(Clone, Default)]
struct Router(Arc<Mutex<HashMap<u64, Inbox>>>);

impl Transport for Router {
    fn send(&mut self, peer: u64, data: &[u8]) -> Result<(), Error> {
        let inbox = self.0.lock().unwrap().get(&peer).cloned();
        match inbox {
            Some(i) => i.receive(data),
            None => Ok(()), // down: lost
        }
    }
}

fn build(id: u64, st: &RustStorage, router: &Router) -> Node<Kv> {
    let n = NodeBuilder::new(id)
        .custom_storage(st.clone())
        .custom_transport(router.clone())
        .tick(Duration::from_millis(5))
        .snapshot_trailing(2)
        .bootstrap(&[1, 2, 3])
        .build(Kv::default())
        .unwrap();
    router.0.lock().unwrap().insert(id, n.inbox());
    n
}

#[test]
fn rust_storage_and_transport_restart_and_snapshot() {
    let router = Router::default();
    let disks: Vec<RustStorage> = (0..3).map(|_| RustStorage::default()).collect();
    let mut nodes: Vec<Option<Node<Kv>>> = (1..=3)
        .map(|id| Some(build(id, &disks[id as usize - 1], &router)))
        .collect();
    let l = nodes_leader_wait(&nodes);
    for i in 0..10 {
        nodes[l as usize - 1]
            .as_ref()
            .unwrap()
            .propose(format!("k{i}={i}").as_bytes(), Duration::from_secs(10))
            .unwrap();
    }
    assert!(disks[l as usize - 1].0.lock().unwrap().syncs > 0);
    nodes[l as usize - 1]
        .as_ref()
        .unwrap()
        .trigger_snapshot(Duration::ZERO)
        .unwrap();
    assert!(disks[l as usize - 1].0.lock().unwrap().snapshot.is_some());

    // Crash every node, restart all from their Rust storages.
    router.0.lock().unwrap().clear();
    for n in nodes.iter_mut() {
        *n = None;
    }
    for id in 1..=3u64 {
        nodes[id as usize - 1] = Some(build(id, &disks[id as usize - 1], &router));
    }
    let l2 = nodes_leader_wait(&nodes);
    let node = nodes[l2 as usize - 1].as_ref().unwrap();
    node.propose(b"after=1", Duration::from_secs(10)).unwrap();
    assert_eq!(node.read(|kv: &Kv| kv.map.len()).unwrap(), 11);
    router.0.lock().unwrap().clear();
}

fn nodes_leader_wait(nodes: &[Option<Node<Kv>>]) -> u64 {
    let mut id = 0;
    eventually("leader after restart", || {
        id = nodes
            .iter()
            .flatten()
            .find(|n| n.is_leader())
            .map(|n| n.id())
            .unwrap_or(0);
        id != 0
    });
    id
}

/// A storage whose load fails: the node is not created.
struct Broken;

impl Storage for Broken {
    fn load(&mut self, _l: &mut Loader<'_>) -> Result<(), Error> {
        Err(Error::Corrupt)
    }
    fn save_hard_state(&mut self, _: u64, _: u64) -> Result<(), Error> {
        Ok(())
    }
    fn append(&mut self, _: u64, _: u64, _: u32, _: &[u8]) -> Result<(), Error> {
        Ok(())
    }
    fn truncate(&mut self, _: u64) -> Result<(), Error> {
        Ok(())
    }
    fn snapshot_write(
        &mut self,
        _: u64,
        _: u64,
        _: u64,
        _: &[u8],
        _: &[u8],
        _: bool,
    ) -> Result<(), Error> {
        Ok(())
    }
    fn snapshot_read(&mut self, _: u64, _: u64, _: &mut [u8]) -> Result<(usize, bool), Error> {
        Err(Error::NotFound)
    }
}

#[test]
fn failing_load_fails_build() {
    let e = NodeBuilder::new(1)
        .custom_storage(Broken)
        .custom_transport(Router::default())
        .build(Kv::default())
        .unwrap_err();
    assert_eq!(e.code(), Error::Corrupt.code());
    assert!(matches!(e, Error::Create { .. }));
}

#[test]
fn failing_writes_stop_the_node_with_io() {
    let hub = craft::Hub::new().unwrap();
    let ms = craft::MemStorage::new().unwrap();
    let n = common::builder(1, &hub, &ms)
        .bootstrap(&[1])
        .build(Kv::default())
        .unwrap();
    eventually("leader", || n.is_leader());
    n.propose(b"a=1", Duration::from_secs(10)).unwrap();
    ms.fail_writes(Some(Error::Io)).unwrap();
    let r = n.propose(b"b=2", Duration::from_secs(10));
    assert!(matches!(r, Err(Error::Io) | Err(Error::Shutdown)), "{r:?}");
    assert!(!n.last_error().is_empty());
    assert_eq!(n.propose(b"c=3", Duration::from_secs(1)), Err(Error::Io));
}
