//! The kv example in its three-process mode: servers over TcpTransport
//! and FileStorage, the leader's process killed and restarted.

use std::path::PathBuf;
use std::process::Command;

/// target/<profile>/examples/kv, which `cargo test` builds next to the
/// test programs (target/<profile>/deps/).
fn example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples").join("kv");
    p.exists().then_some(p)
}

#[test]
fn kv_example_three_processes_over_tcp() {
    let Some(kv) = example() else {
        // `cargo test --tests` does not build examples.
        eprintln!("skipped: the kv example is not built (cargo test builds it)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("craft-rust-kv-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(kv).arg("tcp").arg(&dir).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("all three agree"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
