//! A replicated key-value map on craft.
//!
//!   cargo run --example kv            3 nodes in one process over the
//!                                     in-process hub: writes, reads from
//!                                     every node, loses the leader,
//!                                     writes again, restarts it.
//!
//! The state machine is a BTreeMap; an entry is "key=value", and applying
//! it returns the previous value.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use craft::{BoxError, Entry, Error, Hub, MemStorage, Node, NodeBuilder, StateMachine};

/// The replicated map.
#[derive(Default)]
struct Map(BTreeMap<String, String>);

impl StateMachine for Map {
    fn apply(&mut self, e: Entry<'_>) -> Result<Vec<u8>, BoxError> {
        let s = std::str::from_utf8(e.data)?;
        let (k, v) = s.split_once('=').ok_or("an entry is key=value")?;
        Ok(self
            .0
            .insert(k.into(), v.into())
            .unwrap_or_default()
            .into_bytes())
    }

    fn snapshot(&mut self, out: &mut dyn Write) -> std::io::Result<()> {
        for (k, v) in &self.0 {
            writeln!(out, "{k}={v}")?;
        }
        Ok(())
    }

    fn restore(&mut self, input: &mut dyn Read) -> std::io::Result<()> {
        let mut s = String::new();
        input.read_to_string(&mut s)?;
        self.0 = s
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Ok(())
    }
}

/// Sets key=value through whichever node leads, following NotLeader hints.
fn set(nodes: &[Option<Node<Map>>], key: &str, value: &str) -> Result<String, Error> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut target = nodes.iter().flatten().next().map(|n| n.id()).unwrap_or(1);
    loop {
        let node = match nodes.get((target - 1) as usize).and_then(|n| n.as_ref()) {
            Some(n) => n,
            None => nodes.iter().flatten().next().expect("a live node"),
        };
        match node.propose(format!("{key}={value}").as_bytes(), Duration::from_secs(2)) {
            Ok(applied) => return Ok(String::from_utf8_lossy(&applied.data).into_owned()),
            Err(Error::NotLeader { leader: Some(l) }) => target = l,
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
                target = target % nodes.len() as u64 + 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn build(id: u64, hub: &Hub, storage: &MemStorage) -> Result<Node<Map>, Error> {
    NodeBuilder::new(id)
        .storage(storage)
        .transport(hub)
        .tick(Duration::from_millis(10))
        .bootstrap(&[1, 2, 3])
        .build(Map::default())
}

fn in_process() -> Result<(), Error> {
    let hub = Hub::new()?;
    let storages: Vec<MemStorage> = (0..3)
        .map(|_| MemStorage::new())
        .collect::<Result<_, _>>()?;
    let mut nodes: Vec<Option<Node<Map>>> = (1..=3)
        .map(|id| build(id, &hub, &storages[id as usize - 1]).map(Some))
        .collect::<Result<_, _>>()?;

    let started = Instant::now();
    set(&nodes, "color", "red")?;
    let old = set(&nodes, "color", "blue")?;
    println!("set color=blue (was {old:?}) after {:?}", started.elapsed());
    for n in nodes.iter().flatten() {
        let v = n.read(|m: &Map| m.0.get("color").cloned())?;
        println!("node {} ({:?}) reads color={v:?}", n.id(), n.role());
    }

    let leader = nodes
        .iter()
        .flatten()
        .find(|n| n.is_leader())
        .map(|n| n.id())
        .unwrap_or(1);
    println!("stopping leader {leader}");
    nodes[leader as usize - 1] = None;
    set(&nodes, "shape", "circle")?;
    let new = nodes
        .iter()
        .flatten()
        .find(|n| n.is_leader())
        .map(|n| n.id());
    println!("new leader {new:?}; set shape=circle");

    nodes[leader as usize - 1] = Some(build(leader, &hub, &storages[leader as usize - 1])?);
    let n = nodes[leader as usize - 1].as_ref().expect("restarted");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match n.read(|m: &Map| m.0.clone()) {
            Ok(m) if m.contains_key("shape") => {
                println!("node {leader} restarted from its storage and reads {m:?}");
                break;
            }
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            other => {
                println!("node {leader} did not catch up: {other:?}");
                return Err(Error::TimedOut);
            }
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = in_process() {
        eprintln!("kv: {e}");
        std::process::exit(1);
    }
}
