//! The runtime scenarios through the safe API, 3 nodes over the hub.

mod common;

use std::time::Duration;

use common::{block_on, eventually, Cluster, Kv};
use craft::{Error, MemberRole, Role};

#[test]
fn elects_one_leader_and_all_agree() {
    let c = Cluster::new(3);
    let leader = c.leader();
    eventually("every node knows the leader", || {
        c.live().all(|n| n.leader() == Some(leader))
    });
    let leaders = c.live().filter(|n| n.role() == Role::Leader).count();
    assert_eq!(leaders, 1);
    let st = c.node(leader).status().unwrap();
    assert_eq!(st.role, Role::Leader);
    assert_eq!(st.leader, Some(leader));
    assert_eq!(st.voters(), vec![1, 2, 3]);
    assert!(st.learners().is_empty());
}

#[test]
fn propose_applies_everywhere_and_returns_apply_result() {
    let c = Cluster::new(3);
    let a = c.propose(b"x=1");
    assert!(a.index > 0 && a.term > 0);
    assert!(a.data.is_empty(), "no previous value");
    let b = c.propose(b"x=2");
    assert_eq!(b.data, b"1", "apply's result comes back");
    assert!(b.index > a.index);
    eventually("all applied", || {
        c.live().all(|n| n.applied_index() >= b.index)
    });
    for n in c.live() {
        // read() on a follower goes through the leader's read index.
        assert_eq!(
            n.read(|kv: &Kv| kv.map.get("x").cloned())
                .unwrap()
                .as_deref(),
            Some("2")
        );
    }
}

#[test]
fn follower_answers_not_leader_with_hint() {
    let c = Cluster::new(3);
    let leader = c.leader();
    eventually("hint known", || {
        c.live().all(|n| n.leader() == Some(leader))
    });
    let follower = c.live().find(|n| n.id() != leader).unwrap();
    match follower.propose(b"k=v", Duration::from_secs(5)) {
        Err(Error::NotLeader { leader: hint }) => assert_eq!(hint, Some(leader)),
        other => panic!("expected NotLeader, got {other:?}"),
    }
}

#[test]
fn propose_async_without_a_runtime() {
    let c = Cluster::new(3);
    let leader = c.node(c.leader());
    c.propose(b"warm=1");
    let futures: Vec<_> = (0..100)
        .map(|i| leader.propose_async(format!("k{i}={i}").as_bytes(), Duration::from_secs(10)))
        .collect();
    let mut indexes = Vec::new();
    for f in futures {
        indexes.push(block_on(f).expect("async proposal").index);
    }
    let mut sorted = indexes.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 100, "each proposal its own entry");
    let n = block_on(leader.read_async(Duration::ZERO, |kv: &Kv| kv.map.len())).unwrap();
    assert_eq!(n, 101);
    // Pending::wait is the blocking way.
    let a = leader.propose_async(b"w=1", Duration::ZERO).wait().unwrap();
    assert!(a.index > *sorted.last().unwrap());
}

#[test]
fn concurrent_proposers_from_threads() {
    let c = Cluster::new(3);
    let id = c.leader();
    let leader = c.node(id);
    std::thread::scope(|s| {
        for t in 0..8 {
            s.spawn(move || {
                for i in 0..50 {
                    leader
                        .propose(format!("t{t}-{i}={i}").as_bytes(), Duration::from_secs(10))
                        .expect("proposal from a thread");
                }
            });
        }
    });
    assert_eq!(leader.read(|kv: &Kv| kv.map.len()).unwrap(), 400);
}

#[test]
fn leader_loss_elects_another_and_keeps_data() {
    let mut c = Cluster::new(3);
    c.propose(b"before=1");
    let old = c.leader();
    let term = c.node(old).term();
    c.stop(old);
    let new = c.leader();
    assert_ne!(new, old);
    assert!(c.node(new).term() > term);
    c.propose(b"after=1");
    let both = c
        .node(new)
        .read(|kv: &Kv| (kv.map.contains_key("before"), kv.map.contains_key("after")));
    assert_eq!(both.unwrap(), (true, true));
    // The old leader comes back from its storage and catches up.
    c.restart(old);
    eventually("restarted node caught up", || {
        c.node(old)
            .read(|kv: &Kv| kv.map.contains_key("after"))
            .unwrap_or(false)
    });
}

#[test]
fn isolated_leader_fails_proposals_by_deadline() {
    let c = Cluster::new(3);
    c.propose(b"a=1");
    let old = c.leader();
    c.hub.isolate(old, true).unwrap();
    let r = c.node(old).propose(b"lost=1", Duration::from_millis(300));
    assert!(
        matches!(
            r,
            Err(Error::TimedOut) | Err(Error::SteppedDown) | Err(Error::NotLeader { .. })
        ),
        "{r:?}"
    );
    eventually("majority elects a new leader", || {
        c.live().any(|n| n.id() != old && n.is_leader())
    });
    c.hub.isolate(old, false).unwrap();
    eventually("old leader follows", || {
        c.node(old).role() == Role::Follower
    });
}

#[test]
fn snapshot_compacts_and_restore_on_restart() {
    let mut c = Cluster::new(3);
    for i in 0..20 {
        c.propose(format!("k{i}={i}").as_bytes());
    }
    let id = c.leader();
    let r = c.node(id).trigger_snapshot(Duration::ZERO).unwrap();
    assert!(r.index >= 20);
    assert_eq!(c.storages[(id - 1) as usize].snapshot_index(), r.index);
    let st = c.node(id).status().unwrap();
    assert_eq!(st.snapshot_index, r.index);
    // Restart that node: its state machine is restored from the snapshot.
    c.stop(id);
    c.restart(id);
    let mut seen = None;
    eventually("restarted node serves reads", || {
        seen = c.node(id).read(|kv: &Kv| (kv.map.len(), kv.restores)).ok();
        seen.is_some()
    });
    assert_eq!(seen, Some((20, 1)));
}

#[test]
fn new_member_catches_up_through_a_snapshot() {
    let mut c = Cluster::new(3);
    for i in 0..30 {
        c.propose(format!("k{i}={i}").as_bytes());
    }
    let id = c.leader();
    c.node(id).trigger_snapshot(Duration::ZERO).unwrap();
    // A fourth node, not bootstrapped, added by the leader.
    let ms = craft::MemStorage::new().unwrap();
    let n4 = common::builder(4, &c.hub, &ms)
        .snapshot_trailing(0)
        .build(Kv::default())
        .unwrap();
    c.storages.push(ms);
    c.nodes.push(Some(n4));
    let r = c.node(id).add_peer(4, Duration::from_secs(15)).unwrap();
    assert!(r.index > 0);
    let st = c.node(id).status().unwrap();
    assert_eq!(st.voters(), vec![1, 2, 3, 4]);
    c.propose(b"late=1");
    eventually("node 4 has everything", || {
        c.node(4).read(|kv: &Kv| kv.map.len()).unwrap_or(0) == 31
    });
}

#[test]
fn membership_learner_promote_remove_transfer() {
    let mut c = Cluster::new(3);
    c.propose(b"a=1");
    let leader = c.leader();
    let ms = craft::MemStorage::new().unwrap();
    let n4 = common::builder(4, &c.hub, &ms)
        .build(Kv::default())
        .unwrap();
    c.storages.push(ms);
    c.nodes.push(Some(n4));
    let l = c.node(leader);
    l.add_learner(4, Duration::from_secs(15)).unwrap();
    assert_eq!(
        l.add_learner(4, Duration::from_secs(15)),
        Err(Error::Exists)
    );
    let st = l.status().unwrap();
    assert_eq!(st.learners(), vec![4]);
    assert!(st
        .members
        .iter()
        .any(|m| m.id == 4 && m.role == MemberRole::Learner));
    l.promote_learner(4, Duration::from_secs(15)).unwrap();
    assert_eq!(l.status().unwrap().voters(), vec![1, 2, 3, 4]);
    // Remove a follower.
    let gone = (1..=3).find(|&i| i != leader).unwrap();
    l.remove_peer(gone, Duration::from_secs(15)).unwrap();
    assert!(!l.status().unwrap().voters().contains(&gone));
    assert_eq!(
        l.remove_peer(99, Duration::from_secs(5)),
        Err(Error::UnknownPeer)
    );
    // Hand leadership to node 4.
    let r = l.transfer_leadership(4, Duration::from_secs(15)).unwrap();
    assert_eq!(r.leader, Some(4));
    eventually("4 leads", || c.node(4).is_leader());
    c.propose(b"b=2");
}

#[test]
fn status_and_metrics() {
    let c = Cluster::new(3);
    let a = c.propose(b"m=1");
    let l = c.node(c.leader());
    let st = l.status().unwrap();
    assert!(st.commit_index >= a.index);
    assert!(st.last_index >= a.index);
    assert_eq!(st.members.len(), 3);
    assert!(st
        .members
        .iter()
        .all(|m| m.match_index > 0 || m.id == st.id || m.next_index > 0));
    let text = l.metrics_text();
    assert!(text.contains("craft_proposals_total"), "{text}");
    assert!(text.contains(&format!("node=\"{}\"", l.id())));
    let m = l.metrics();
    let props = m
        .iter()
        .find(|(n, _)| n == "craft_proposals_total")
        .unwrap()
        .1;
    assert!(props >= 1);
    assert_eq!(m.iter().find(|(n, _)| n == "craft_is_leader").unwrap().1, 1);
    assert_eq!(l.last_error(), "");
    let (v, abi) = craft::library_version();
    assert_eq!(abi, craft::ABI_VERSION);
    assert!(!v.is_empty());
}

#[test]
fn shutdown_under_load_completes_every_call() {
    let c = Cluster::new(3);
    let id = c.leader();
    let leader = c.node(id);
    c.propose(b"warm=1");
    let pending: Vec<_> = (0..2000)
        .map(|i| leader.propose_async(format!("k{i}=v").as_bytes(), Duration::from_secs(10)))
        .collect();
    let stopper = std::thread::scope(|s| {
        let h = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(2));
            leader.shutdown()
        });
        let mut ok = 0;
        let mut shut = 0;
        for p in pending {
            match p.wait() {
                Ok(_) => ok += 1,
                Err(Error::Shutdown) | Err(Error::Busy) => shut += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(ok + shut, 2000, "every proposal completed");
        h.join().unwrap()
    });
    stopper.unwrap();
    assert_eq!(
        leader.propose(b"after=1", Duration::ZERO),
        Err(Error::Shutdown)
    );
    assert_eq!(leader.read(|kv: &Kv| kv.map.len()), Err(Error::Shutdown));
    // Dropping everything now must not hang or crash.
}

#[test]
fn dropping_nodes_with_calls_in_flight() {
    for _ in 0..3 {
        let c = Cluster::new(3);
        let leader = c.node(c.leader());
        let pending: Vec<_> = (0..500)
            .map(|i| leader.propose_async(format!("k{i}=v").as_bytes(), Duration::from_secs(10)))
            .collect();
        drop(c); // shuts down and frees all three with proposals pending
        for p in pending {
            let _ = p.wait(); // each completes (Ok or Shutdown), none hangs
        }
    }
}

#[test]
fn builder_errors() {
    let hub = craft::Hub::new().unwrap();
    let e = craft::NodeBuilder::new(0)
        .transport(&hub)
        .build(Kv::default())
        .unwrap_err();
    assert!(matches!(e, Error::Create { .. }));
    assert_eq!(e.code(), -1);
    let e = craft::NodeBuilder::new(1).build(Kv::default()).unwrap_err();
    assert!(e.to_string().contains("transport"), "{e}");
    let e = craft::NodeBuilder::new(1)
        .transport(&hub)
        .bootstrap(&[2, 3])
        .build(Kv::default())
        .unwrap_err();
    assert_eq!(e, Error::InvalidArgument, "bootstrap without self");
}
