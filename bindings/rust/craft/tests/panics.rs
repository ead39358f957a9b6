//! Panics in user callbacks are caught at the FFI boundary: reported,
//! turned into the callback's error code, and the node goes on.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{Cluster, Kv};
use craft::{BoxError, Entry, Error, Hub, MemStorage, NodeBuilder, StateMachine, Transport};

fn quiet_panics() {
    // The default hook prints every caught panic; keep the output short.
    std::panic::set_hook(Box::new(|info| eprintln!("(expected) panic: {info}")));
}

#[test]
fn panic_in_apply_is_the_proposers_callback_error() {
    quiet_panics();
    let c = Cluster::new(3);
    c.propose(b"a=1");
    let l = c.node(c.leader());
    assert_eq!(
        l.propose(b"panic", Duration::from_secs(10)),
        Err(Error::Callback)
    );
    assert_eq!(
        l.propose(b"fail", Duration::from_secs(10)),
        Err(Error::Callback)
    );
    // The node goes on: the entries count as applied everywhere.
    let a = l.propose(b"b=2", Duration::from_secs(10)).unwrap();
    common::eventually("all applied", || {
        c.live().all(|n| n.applied_index() >= a.index)
    });
    for n in c.live() {
        assert_eq!(n.read(|kv: &Kv| kv.map.len()).unwrap(), 2);
    }
}

#[test]
fn panic_in_read_closure_reaches_the_reader() {
    quiet_panics();
    let c = Cluster::new(1);
    c.propose(b"a=1");
    let n = c.node(1);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        n.read(|_kv: &Kv| -> u32 { panic!("reader panics") })
    }));
    let msg = caught.unwrap_err();
    assert_eq!(*msg.downcast_ref::<&str>().unwrap(), "reader panics");
    let r = common::block_on(
        n.read_async(Duration::ZERO, |_kv: &Kv| -> u32 { panic!("async reader") }),
    );
    assert_eq!(r, Err(Error::Panicked("async reader".into())));
    // Still serving.
    assert_eq!(n.read(|kv: &Kv| kv.map.len()).unwrap(), 1);
}

/// A state machine whose snapshot panics.
#[derive(Default)]
struct BadSnapshot(u64);

impl StateMachine for BadSnapshot {
    fn apply(&mut self, _e: Entry<'_>) -> Result<Vec<u8>, BoxError> {
        self.0 += 1;
        Ok(Vec::new())
    }
    fn snapshot(&mut self, _out: &mut dyn Write) -> std::io::Result<()> {
        panic!("snapshot panics")
    }
    fn restore(&mut self, _input: &mut dyn Read) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn panic_in_snapshot_fails_the_snapshot_only() {
    quiet_panics();
    let hub = Hub::new().unwrap();
    let n = NodeBuilder::new(1)
        .storage(MemStorage::new().unwrap())
        .transport(&hub)
        .tick(Duration::from_millis(5))
        .bootstrap(&[1])
        .build(BadSnapshot::default())
        .unwrap();
    common::eventually("leader", || n.is_leader());
    n.propose(b"x", Duration::from_secs(10)).unwrap();
    assert_eq!(n.trigger_snapshot(Duration::ZERO), Err(Error::Callback));
    n.propose(b"y", Duration::from_secs(10)).unwrap();
    assert_eq!(n.read(|f: &BadSnapshot| f.0).unwrap(), 2);
}

/// A transport that panics on its first sends, then delivers through
/// the node's inboxes.
struct Flaky {
    panicked: Arc<AtomicBool>,
    peers: Arc<std::sync::Mutex<Vec<craft::Inbox>>>,
}

impl Transport for Flaky {
    fn send(&mut self, peer: u64, data: &[u8]) -> Result<(), Error> {
        if !self.panicked.swap(true, Ordering::SeqCst) {
            panic!("transport panics once");
        }
        let peers = self.peers.lock().unwrap();
        match peers.iter().find(|i| i.id() == peer) {
            Some(i) => i.receive(data),
            None => Ok(()), // not up yet: lost, Raft retransmits
        }
    }
}

#[test]
fn panic_in_transport_drops_the_message_only() {
    quiet_panics();
    let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let panicked = Arc::new(AtomicBool::new(false));
    let nodes: Vec<_> = (1..=3)
        .map(|id| {
            NodeBuilder::new(id)
                .storage(MemStorage::new().unwrap())
                .custom_transport(Flaky {
                    panicked: panicked.clone(),
                    peers: peers.clone(),
                })
                .tick(Duration::from_millis(5))
                .bootstrap(&[1, 2, 3])
                .build(Kv::default())
                .unwrap()
        })
        .collect();
    peers
        .lock()
        .unwrap()
        .extend(nodes.iter().map(|n| n.inbox()));
    common::eventually("a leader despite the panic", || {
        nodes.iter().any(|n| n.is_leader())
    });
    assert!(panicked.load(Ordering::SeqCst));
    let l = nodes.iter().find(|n| n.is_leader()).unwrap();
    l.propose(b"k=v", Duration::from_secs(10)).unwrap();
    // Break the cycle node -> transport -> inbox -> node.
    peers.lock().unwrap().clear();
}
