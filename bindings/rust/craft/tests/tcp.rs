//! The TCP transport battery: a 3-node cluster over 127.0.0.1 with file
//! storage, the deployment shape in one process.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{eventually, Kv};
use craft::{Error, FileStorage, MemStorage, Node, NodeBuilder, SyncMode, TcpTransport};

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

fn transport(id: u64, listen: &str) -> TcpTransport {
    TcpTransport::options()
        .cluster_id(7)
        .listen(listen)
        .backoff(Duration::from_millis(10), Duration::from_millis(200))
        .create(id)
        .unwrap()
}

fn build(id: u64, dir: &TempDir, t: &TcpTransport, members: &[(u64, &str)]) -> Node<Kv> {
    let fs = FileStorage::options()
        .sync_mode(SyncMode::NoneUnsafeForTests)
        .ids(7, id)
        .open(dir.0.join(format!("n{id}")))
        .unwrap();
    NodeBuilder::new(id)
        .storage(fs)
        .transport(t)
        .tick(Duration::from_millis(5))
        .election_ticks(20)
        .wait_leader(true)
        .request_timeout(Duration::from_secs(10))
        .bootstrap_at(members)
        .build(Kv::default())
        .unwrap()
}

fn leader(nodes: &[Option<Node<Kv>>]) -> u64 {
    let mut id = 0;
    eventually("a leader over TCP", || {
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

fn propose(nodes: &[Option<Node<Kv>>], data: &str) -> u64 {
    let deadline = std::time::Instant::now() + common::LONG;
    loop {
        let l = leader(nodes);
        match nodes[(l - 1) as usize]
            .as_ref()
            .unwrap()
            .propose(data.as_bytes(), Duration::from_secs(5))
        {
            Ok(a) => return a.index,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "propose: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

#[test]
fn three_nodes_over_tcp_with_file_storage() {
    let dir = TempDir::new("tcp");
    let mut ts: Vec<TcpTransport> = (1..=3).map(|id| transport(id, "127.0.0.1:0")).collect();
    let addrs: Vec<String> = ts.iter().map(|t| t.local_addr()).collect();
    for (k, t) in ts.iter().enumerate() {
        assert_eq!(t.id(), k as u64 + 1);
        assert!(t.port() > 0);
        assert_eq!(addrs[k], format!("127.0.0.1:{}", t.port()));
    }
    let members: Vec<(u64, &str)> = addrs
        .iter()
        .enumerate()
        .map(|(k, a)| (k as u64 + 1, a.as_str()))
        .collect();
    let mut nodes: Vec<Option<Node<Kv>>> = (1..=3)
        .map(|id| Some(build(id, &dir, &ts[(id - 1) as usize], &members)))
        .collect();

    let mut last = 0;
    for k in 0..200 {
        last = propose(&nodes, &format!("k{k}={k}"));
    }
    for n in nodes.iter().flatten() {
        assert_eq!(
            n.read(|kv: &Kv| kv.map.get("k199").cloned()).unwrap(),
            Some("199".to_string())
        );
        assert!(n.applied_index() >= last);
    }
    let l = leader(&nodes);
    let lt = &ts[(l - 1) as usize];
    assert!(lt.metric(0, "craft_tcp_frames_out_total").unwrap() > 0);
    assert!(lt.metric(0, "craft_tcp_bytes_in_total").unwrap() > 0);
    let mut peers = lt.peers();
    peers.sort_unstable();
    assert_eq!(peers, (1..=3).filter(|&p| p != l).collect::<Vec<_>>());
    for p in peers {
        assert_eq!(lt.metric(p, "craft_tcp_connected"), Some(1));
    }

    // A second node on a transport in use, or on another node's.
    let err = NodeBuilder::new(l)
        .storage(MemStorage::new().unwrap())
        .transport(lt)
        .build(Kv::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::Create { ref code, .. } if **code == Error::Busy),
        "{err}"
    );
    let other = if l == 1 { 2 } else { 1 };
    let err = NodeBuilder::new(other)
        .storage(MemStorage::new().unwrap())
        .transport(lt)
        .build(Kv::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::Create { ref code, .. } if **code == Error::InvalidArgument),
        "{err}"
    );

    // Leader loss: drop the leader's node and transport; the other two
    // elect another and take writes.
    nodes[(l - 1) as usize] = None;
    let old = std::mem::replace(&mut ts[(l - 1) as usize], transport(l, "127.0.0.1:0"));
    drop(old); // closes the port: the old address is free again
    let after = propose(&nodes, "after=loss");
    // Restart it from its directory on its old address: it catches up.
    ts[(l - 1) as usize] = transport(l, &addrs[(l - 1) as usize]);
    nodes[(l - 1) as usize] = Some(build(l, &dir, &ts[(l - 1) as usize], &members));
    let back = nodes[(l - 1) as usize].as_ref().unwrap();
    eventually("the restarted node catches up", || {
        back.applied_index() >= after
    });
    assert_eq!(
        back.read(|kv: &Kv| kv.map.get("after").cloned()).unwrap(),
        Some("loss".to_string())
    );
    drop(nodes);
    drop(ts);
}

#[test]
fn tcp_transport_errors() {
    let err = TcpTransport::new(0, "127.0.0.1:0").unwrap_err();
    assert!(matches!(err, Error::Create { ref code, .. } if **code == Error::InvalidArgument));
    let err = TcpTransport::new(1, "no port").unwrap_err();
    assert!(matches!(err, Error::Create { ref code, .. } if **code == Error::InvalidArgument));
    let a = TcpTransport::new(1, "127.0.0.1:0").unwrap();
    let err = TcpTransport::new(2, &a.local_addr()).unwrap_err();
    assert!(
        matches!(err, Error::Create { ref code, .. } if **code == Error::Io),
        "{err}"
    );
    assert!(err.to_string().contains(&a.local_addr()), "{err}");
    assert_eq!(
        a.set_peer(1, Some("127.0.0.1:9")),
        Err(Error::InvalidArgument)
    );
    a.set_peer(2, Some("127.0.0.1:9")).unwrap();
    assert!(a.peers().contains(&2));
    a.set_peer(2, None).unwrap();
    assert!(a
        .metrics(0)
        .iter()
        .any(|(n, _)| n == "craft_tcp_drops_total"));
    assert_eq!(a.metric(0, "no such metric"), None);
}
