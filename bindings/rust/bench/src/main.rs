//! ops/s of propose from 1, 64 and 256 tasks in one process: craft (3
//! nodes over the in-process hub, in-memory storage) next to openraft 0.9
//! (3 nodes, a minimal in-memory store, an in-process network), in the
//! same run on the same tokio runtime. Payloads of 16 bytes; each task
//! proposes one entry and awaits its commit + apply, in a loop.
//!
//!   cargo run --release [-- --seconds S] [--tasks 1,64,256] [--threads N] [--rounds R]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod openraft_mem;

use craft::{BoxError, Entry, Hub, MemStorage, Node, NodeBuilder, StateMachine};

/// craft's state machine: sums payload bytes (as the openraft one).
#[derive(Default)]
struct Sum(u64);

impl StateMachine for Sum {
    fn apply(&mut self, e: Entry<'_>) -> Result<Vec<u8>, BoxError> {
        self.0 += e.data.len() as u64;
        Ok(Vec::new())
    }
    fn snapshot(&mut self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        out.write_all(&self.0.to_le_bytes())
    }
    fn restore(&mut self, input: &mut dyn std::io::Read) -> std::io::Result<()> {
        let mut b = [0u8; 8];
        input.read_exact(&mut b)?;
        self.0 = u64::from_le_bytes(b);
        Ok(())
    }
}

const PAYLOAD: [u8; 16] = *b"0123456789abcdef";

fn craft_cluster() -> (Hub, Vec<Arc<Node<Sum>>>) {
    let hub = Hub::new().unwrap();
    let nodes: Vec<_> = (1..=3)
        .map(|id| {
            Arc::new(
                NodeBuilder::new(id)
                    .storage(MemStorage::new().unwrap())
                    .transport(&hub)
                    .bootstrap(&[1, 2, 3])
                    .build(Sum::default())
                    .unwrap(),
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !nodes.iter().any(|n| n.is_leader()) {
        assert!(Instant::now() < deadline, "craft: no leader");
        std::thread::sleep(Duration::from_millis(5));
    }
    (hub, nodes)
}

/// Runs `tasks` tasks of `op` for `secs`; returns ops/s.
async fn drive<F, Fut>(tasks: usize, secs: f64, op: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    // Warm-up then measure: counted only between the two marks.
    let warm = Duration::from_millis(300);
    for _ in 0..tasks {
        let (stop, count, op) = (stop.clone(), count.clone(), op.clone());
        handles.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if op().await {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(warm).await;
    let c0 = count.load(Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let c1 = count.load(Ordering::Relaxed);
    let dt = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.await;
    }
    (c1 - c0) as f64 / dt
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// craft: a fresh 3-node cluster; `n` tasks propose to the leader.
fn craft_point(rt: &tokio::runtime::Runtime, n: usize, secs: f64) -> f64 {
    let (hub, nodes) = craft_cluster();
    let leader = nodes.iter().find(|n| n.is_leader()).unwrap().clone();
    let ops = rt.block_on(drive(n, secs, move || {
        let p = leader.propose_async(&PAYLOAD, Duration::from_secs(10));
        async move { p.await.is_ok() }
    }));
    drop(nodes);
    drop(hub);
    ops
}

/// openraft: a fresh 3-node cluster; `n` tasks client_write to node 1.
fn openraft_point(rt: &tokio::runtime::Runtime, n: usize, secs: f64) -> f64 {
    rt.block_on(async {
        let (router, rafts) = openraft_mem::cluster().await;
        let leader = rafts[0].clone();
        let ops = drive(n, secs, move || {
            let l = leader.clone();
            async move { l.client_write(PAYLOAD.to_vec()).await.is_ok() }
        })
        .await;
        for r in &rafts {
            let _ = r.shutdown().await;
        }
        // The router stays filled: a replication task still running
        // reaches a shut-down Raft (an error), never a missing one.
        drop(router);
        ops
    })
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: f64 = arg(&args, "--seconds").unwrap_or(3.0);
    let threads: usize = arg(&args, "--threads").unwrap_or(2);
    let tasks: Vec<usize> = arg::<String>(&args, "--tasks")
        .map(|s| s.split(',').filter_map(|t| t.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 64, 256]);
    let rounds: usize = arg(&args, "--rounds").unwrap_or(3).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let (v, _) = craft::library_version();
    println!(
        "propose throughput, 3 nodes in one process, in-memory, {}-byte payloads,",
        PAYLOAD.len()
    );
    println!(
        "median of {rounds} rounds of {secs} s, tokio with {threads} worker threads; craft {v} vs openraft 0.9.25"
    );
    println!(
        "{:>6}  {:>12}  {:>12}  {:>7}",
        "tasks", "craft ops/s", "openraft", "ratio"
    );
    for &n in &tasks {
        // Rounds alternate craft and openraft, each on a fresh cluster,
        // so load from elsewhere hits both alike; the median is reported.
        let mut c = Vec::new();
        let mut o = Vec::new();
        for _ in 0..rounds {
            c.push(craft_point(&rt, n, secs));
            o.push(openraft_point(&rt, n, secs));
        }
        let (craft_ops, openraft_ops) = (median(&mut c), median(&mut o));
        println!(
            "{n:>6}  {craft_ops:>12.0}  {openraft_ops:>12.0}  {:>6.2}x",
            craft_ops / openraft_ops.max(1.0)
        );
    }
}
