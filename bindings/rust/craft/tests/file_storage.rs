//! The file storage battery: a cluster restarted from its directories.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{eventually, Kv};
use craft::{Error, FileStorage, Hub, Node, NodeBuilder, SyncMode};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("craft-rust-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &TempDir, id: u64) -> FileStorage {
    FileStorage::options()
        .sync_mode(SyncMode::NoneUnsafeForTests) // a process crash loses nothing
        .segment_bytes(64 * 1024)
        .ids(7, id)
        .open(dir.0.join(format!("n{id}")))
        .unwrap()
}

fn build(id: u64, hub: &Hub, fs: FileStorage) -> Node<Kv> {
    NodeBuilder::new(id)
        .storage(fs)
        .transport(hub)
        .tick(Duration::from_millis(5))
        .wait_leader(true)
        .request_timeout(Duration::from_secs(10))
        .bootstrap(&[1, 2, 3])
        .build(Kv::default())
        .unwrap()
}

fn leader(nodes: &[Node<Kv>]) -> &Node<Kv> {
    let mut id = 0;
    eventually("leader", || {
        id = nodes
            .iter()
            .find(|n| n.is_leader())
            .map(|n| n.id())
            .unwrap_or(0);
        id != 0
    });
    nodes.iter().find(|n| n.id() == id).unwrap()
}

#[test]
fn cluster_restarts_from_file_storage() {
    let dir = TempDir::new("restart");
    let hub = Hub::new().unwrap();
    let nodes: Vec<_> = (1..=3).map(|id| build(id, &hub, open(&dir, id))).collect();
    let l = leader(&nodes);
    for i in 0..50 {
        l.propose(format!("k{i}={i}").as_bytes(), Duration::ZERO)
            .unwrap();
    }
    l.trigger_snapshot(Duration::ZERO).unwrap();
    for i in 50..60 {
        l.propose(format!("k{i}={i}").as_bytes(), Duration::ZERO)
            .unwrap();
    }
    // Everything down: nodes freed, storages closed (directories unlocked).
    drop(nodes);

    let nodes: Vec<_> = (1..=3).map(|id| build(id, &hub, open(&dir, id))).collect();
    let l = leader(&nodes);
    l.propose(b"after=1", Duration::ZERO).unwrap();
    assert_eq!(l.read(|kv: &Kv| kv.map.len()).unwrap(), 61);
    let restored = nodes
        .iter()
        .filter(|n| n.read(|kv: &Kv| kv.restores).unwrap_or(0) == 1)
        .count();
    assert!(restored >= 1, "the snapshot was restored at start");
}

#[test]
fn open_errors_carry_the_message() {
    let dir = TempDir::new("errors");
    let fs = open(&dir, 1);
    // Locked by the open storage.
    match FileStorage::open(dir.0.join("n1")) {
        Err(Error::Create { code, message }) => {
            assert_eq!(*code, Error::Busy);
            assert!(!message.is_empty());
        }
        other => panic!("expected Busy, got {:?}", other.map(|_| ())),
    }
    drop(fs);
    // Another node's directory.
    let e = FileStorage::options()
        .ids(7, 2)
        .open(dir.0.join("n1"))
        .err()
        .unwrap();
    assert_eq!(e.code(), Error::State.code(), "{e}");
    assert!(e.to_string().contains(':'), "{e}");
}
