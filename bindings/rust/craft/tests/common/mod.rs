//! Shared by the integration tests: a replicated key-value map and
//! helpers to run a cluster over the in-process hub.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::thread::sleep;
use std::time::{Duration, Instant};

use craft::{Applied, BoxError, Entry, Error, Hub, MemStorage, Node, NodeBuilder, StateMachine};

/// "key=value" sets; apply returns the previous value.
#[derive(Default, Debug)]
pub struct Kv {
    pub map: BTreeMap<String, String>,
    pub applied: u64,
    pub restores: u64,
}

impl StateMachine for Kv {
    fn apply(&mut self, e: Entry<'_>) -> Result<Vec<u8>, BoxError> {
        self.applied += 1;
        let s = std::str::from_utf8(e.data)?;
        if s == "panic" {
            panic!("apply was asked to panic at index {}", e.index);
        }
        if s == "fail" {
            return Err("apply was asked to fail".into());
        }
        let (k, v) = s.split_once('=').ok_or("not key=value")?;
        let old = self.map.insert(k.to_string(), v.to_string());
        Ok(old.unwrap_or_default().into_bytes())
    }

    fn snapshot(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        for (k, v) in &self.map {
            writeln!(out, "{k}={v}")?;
        }
        Ok(())
    }

    fn restore(&mut self, input: &mut dyn Read) -> std::io::Result<()> {
        let mut s = String::new();
        input.read_to_string(&mut s)?;
        self.map = s
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.restores += 1;
        Ok(())
    }
}

pub const LONG: Duration = Duration::from_secs(20);

pub fn builder(id: u64, hub: &Hub, storage: &MemStorage) -> NodeBuilder {
    NodeBuilder::new(id)
        .storage(storage)
        .transport(hub)
        .tick(Duration::from_millis(5))
        // Elections after 200-400 ms: on a loaded 2-core machine, under
        // ASan, threads stall for tens of ms, and 50-100 ms let a follower
        // depose a healthy leader mid-test (proposals then fail NotLeader).
        .election_ticks(40)
        .request_timeout(Duration::from_secs(10))
}

pub struct Cluster {
    pub hub: Hub,
    pub storages: Vec<MemStorage>,
    pub nodes: Vec<Option<Node<Kv>>>,
}

impl Cluster {
    /// n nodes with ids 1..=n, bootstrapped together.
    pub fn new(n: u64) -> Cluster {
        let hub = Hub::new().unwrap();
        let voters: Vec<u64> = (1..=n).collect();
        let storages: Vec<MemStorage> = (0..n).map(|_| MemStorage::new().unwrap()).collect();
        let nodes = (1..=n)
            .map(|id| {
                Some(
                    builder(id, &hub, &storages[(id - 1) as usize])
                        .bootstrap(&voters)
                        .build(Kv::default())
                        .unwrap(),
                )
            })
            .collect();
        Cluster {
            hub,
            storages,
            nodes,
        }
    }

    pub fn node(&self, id: u64) -> &Node<Kv> {
        self.nodes[(id - 1) as usize]
            .as_ref()
            .expect("node is down")
    }

    pub fn live(&self) -> impl Iterator<Item = &Node<Kv>> {
        self.nodes.iter().flatten()
    }

    /// Waits for a leader that every live node but `except` agrees on.
    pub fn leader(&self) -> u64 {
        let deadline = Instant::now() + LONG;
        loop {
            for n in self.live() {
                if n.is_leader() {
                    return n.id();
                }
            }
            assert!(Instant::now() < deadline, "no leader elected");
            sleep(Duration::from_millis(5));
        }
    }

    /// Proposes until some node accepts it, following leader hints.
    pub fn propose(&self, data: &[u8]) -> Applied {
        let deadline = Instant::now() + LONG;
        let mut target = self.leader();
        loop {
            match self.node(target).propose(data, Duration::from_secs(5)) {
                Ok(a) => return a,
                Err(Error::NotLeader { leader: Some(l) })
                    if self.nodes[(l - 1) as usize].is_some() =>
                {
                    target = l
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "propose kept failing: {e}");
                    sleep(Duration::from_millis(10));
                    target = self.leader();
                }
            }
        }
    }

    /// Stops node id (a crash: its storage stays).
    pub fn stop(&mut self, id: u64) {
        self.nodes[(id - 1) as usize] = None;
    }

    /// Starts node id again from its storage.
    pub fn restart(&mut self, id: u64) {
        let n = builder(id, &self.hub, &self.storages[(id - 1) as usize])
            .build(Kv::default())
            .unwrap();
        self.nodes[(id - 1) as usize] = Some(n);
    }
}

/// Waits until f() holds.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        sleep(Duration::from_millis(5));
    }
}

/// A tiny executor: polls a future on this thread until it is ready
/// (the crate needs no runtime; this proves it).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}
