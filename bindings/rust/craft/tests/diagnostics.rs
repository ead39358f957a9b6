//! What the library says when something is wrong: the create-time message
//! in Error::Create, and the stderr trace printer.

mod common;

use std::process::Command;

use craft::{Error, Hub, MemStorage};

#[test]
fn create_error_carries_the_library_message() {
    let hub = Hub::new().unwrap();
    let ms = MemStorage::new().unwrap();
    let e = common::builder(1, &hub, &ms)
        .election_ticks(1)
        .build(common::Kv::default())
        .unwrap_err();
    let want = format!(
        "options.engine rejected: {} (election_ticks < 2, heartbeat_ticks 0 or >= \
         election_ticks, max_inflight 0 or too large, max_msg_bytes, \
         snapshot_chunk_bytes or catchup_rounds 0, or lease_reads without check_quorum)",
        Error::InvalidArgument
    );
    match &e {
        Error::Create { code, message } => {
            assert_eq!(**code, Error::InvalidArgument);
            assert_eq!(message, &want);
        }
        other => panic!("not Error::Create: {other:?}"),
    }
    assert_eq!(e.to_string(), format!("{}: {want}", Error::InvalidArgument));
    // The storage and the hub were released: a good node can use them.
    let n = common::builder(1, &hub, &ms)
        .build(common::Kv::default())
        .unwrap();
    drop(n);
}

const CHILD: &str = "CRAFT_RUST_TRACE_STDERR_CHILD";

/// The child half of `trace_stderr_prints_one_line_per_event`: a one-node
/// cluster that elects itself with the C printer on.
#[test]
fn trace_stderr_child() {
    if std::env::var_os(CHILD).is_none() {
        return; // run by trace_stderr_prints_one_line_per_event
    }
    let hub = Hub::new().unwrap();
    let ms = MemStorage::new().unwrap();
    let n = common::builder(1, &hub, &ms)
        .bootstrap(&[1])
        .trace_stderr(craft::TraceLevel::INFO)
        .build(common::Kv::default())
        .unwrap();
    common::eventually("leader", || n.is_leader());
    drop(n);
}

/// "2026-12-05T19:02:48.123456Z" then the rest, as include/craft/node.h
/// shows it.
fn split_time(line: &str) -> Option<&str> {
    let (t, rest) = (line.get(..27)?, line.get(27..)?);
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok = digits(0..4)
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && digits(20..26)
        && b[26] == b'Z';
    ok.then_some(rest)
}

#[test]
fn trace_stderr_prints_one_line_per_event() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "trace_stderr_child", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child did not run"
    );
    let elected = stderr.lines().filter_map(split_time).any(|rest| {
        rest.strip_prefix(" INFO  craft.engine leader.elected node_id=1 term=")
            .and_then(|r| r.split_once(' '))
            .is_some_and(|(term, tail)| {
                term.bytes().all(|c| c.is_ascii_digit()) && tail == "leader=1"
            })
    });
    assert!(elected, "no leader.elected line on stderr:\n{stderr}");
    assert!(
        !stderr.contains(" DEBUG "),
        "DEBUG lines at INFO:\n{stderr}"
    );
}
