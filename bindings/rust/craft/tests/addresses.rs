//! Members' addresses: given at bootstrap and when adding, read back from
//! status and from the published membership.

mod common;

use std::time::Duration;

use common::{builder, eventually, Kv};
use craft::{Hub, MemStorage, MemberRole};

#[test]
fn addresses_travel_with_the_membership() {
    let hub = Hub::new().unwrap();
    let members = [
        (1, "127.0.0.1:7001"),
        (2, "127.0.0.1:7002"),
        (3, "127.0.0.1:7003"),
    ];
    let storages: Vec<MemStorage> = (0..4).map(|_| MemStorage::new().unwrap()).collect();
    let mut nodes: Vec<_> = (1..=3u64)
        .map(|id| {
            builder(id, &hub, &storages[id as usize - 1])
                .bootstrap_at(&members)
                .build(Kv::default())
                .unwrap()
        })
        .collect();
    let (m, version) = nodes[0].membership().unwrap();
    assert!(version > 0);
    assert_eq!(nodes[0].membership_version(), version);
    let addr = |st: &craft::Status, id: u64| {
        st.members
            .iter()
            .find(|m| m.id == id)
            .and_then(|m| m.address.clone())
    };
    assert_eq!(addr(&m, 2).as_deref(), Some("127.0.0.1:7002"));

    eventually("leader", || nodes.iter().any(|n| n.is_leader()));
    let lid = nodes.iter().find(|n| n.is_leader()).unwrap().id();
    nodes.push(builder(4, &hub, &storages[3]).build(Kv::default()).unwrap());
    let l = nodes.iter().find(|n| n.id() == lid).unwrap();
    l.add_learner_at(4, "127.0.0.1:7004", Duration::from_secs(15))
        .unwrap();
    let st = l.status().unwrap();
    let m4 = st.members.iter().find(|m| m.id == 4).unwrap();
    assert_eq!(m4.role, MemberRole::Learner);
    assert_eq!(m4.address.as_deref(), Some("127.0.0.1:7004"));
    assert_eq!(addr(&st, 1).as_deref(), Some("127.0.0.1:7001"));
    // Every node, the new one included, learns the address.
    eventually("node 4 sees its address", || {
        nodes[3]
            .membership()
            .map(|(s, _)| addr(&s, 4).is_some())
            .unwrap_or(false)
    });
}
