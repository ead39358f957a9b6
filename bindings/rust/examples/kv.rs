//! A replicated key-value map on craft.
//!
//!   cargo run --example kv            3 nodes in one process over the
//!                                     in-process hub: writes, reads from
//!                                     every node, loses the leader,
//!                                     writes again, restarts it.
//!   cargo run --example kv -- tcp [DIR]
//!                                     the same story with 3 processes
//!                                     that talk TCP (TcpTransport) and
//!                                     keep their state in files
//!                                     (FileStorage, under DIR): the
//!                                     leader's process is killed and
//!                                     restarted from its directory.
//!   kv serve ID DIR 1=HOST:PORT,2=HOST:PORT,3=HOST:PORT
//!                                     one server of that cluster; reads
//!                                     commands on stdin ("set K V",
//!                                     "get K", "leader"), answers one
//!                                     line each; stops at end of input.
//!
//! The state machine is a BTreeMap; an entry is "key=value", and applying
//! it returns the previous value.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use craft::{
    BoxError, Entry, Error, FileStorage, Hub, MemStorage, Node, NodeBuilder, StateMachine,
    TcpTransport,
};

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

// ---- three processes over TCP and file storage ------------------------------

/// Every cluster of this example uses this id: the TCP handshake refuses
/// a server of another cluster that happens to reach the port.
const CLUSTER_ID: u64 = 0x6b76;

/// One server: a node on a FileStorage in `dir` and a TcpTransport on its
/// address in `peers`, answering commands on stdin.
fn serve(id: u64, dir: &Path, peers: &str) -> Result<(), Error> {
    let members: Vec<(u64, String)> = peers
        .split(',')
        .filter_map(|p| p.split_once('='))
        .filter_map(|(i, a)| Some((i.parse().ok()?, a.to_string())))
        .collect();
    let me = members
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, a)| a.clone())
        .ok_or(Error::InvalidArgument)?;
    let storage = FileStorage::options().ids(CLUSTER_ID, id).open(dir)?;
    let transport = TcpTransport::options()
        .cluster_id(CLUSTER_ID)
        .listen(&me)
        .create(id)?;
    let at: Vec<(u64, &str)> = members.iter().map(|(i, a)| (*i, a.as_str())).collect();
    // The addresses go into the membership at bootstrap, so every
    // server's transport finds its peers; a restart reads them (and
    // ignores the bootstrap) from its directory.
    let node = NodeBuilder::new(id)
        .storage(storage)
        .transport(&transport)
        .tick(Duration::from_millis(10))
        .wait_leader(true)
        .bootstrap_at(&at)
        .build(Map::default())?;
    println!("ready");
    std::io::stdout().flush().ok();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["set", k, v] => {
                match node.propose(format!("{k}={v}").as_bytes(), Duration::from_secs(5)) {
                    Ok(a) => format!("ok {}", String::from_utf8_lossy(&a.data)),
                    Err(Error::NotLeader { leader }) => {
                        format!("notleader {}", leader.unwrap_or(0))
                    }
                    Err(e) => format!("error {e}"),
                }
            }
            ["get", k] => {
                let k = k.to_string();
                match node.read(move |m: &Map| m.0.get(&k).cloned()) {
                    Ok(Some(v)) => format!("value {v}"),
                    Ok(None) => "none".to_string(),
                    Err(e) => format!("error {e}"),
                }
            }
            ["leader"] => format!("leader {}", node.leader().unwrap_or(0)),
            _ => "error unknown command".to_string(),
        };
        println!("{answer}");
        std::io::stdout().flush().ok();
    }
    Ok(())
}

/// A server process, driven through its stdin and stdout.
struct Server {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Server {
    fn start(id: u64, dir: &Path, peers: &str) -> std::io::Result<Server> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(["serve", &id.to_string()])
            .arg(dir.join(format!("n{id}")))
            .arg(peers)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = child.stdin.take().expect("piped");
        let output = BufReader::new(child.stdout.take().expect("piped"));
        let mut s = Server {
            child,
            input,
            output,
        };
        let first = s.read_line()?;
        if first != "ready" {
            return Err(std::io::Error::other(format!("server {id}: {first:?}")));
        }
        Ok(s)
    }

    fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("the server exited"));
        }
        Ok(line.trim_end().to_string())
    }

    fn ask(&mut self, command: &str) -> std::io::Result<String> {
        writeln!(self.input, "{command}")?;
        self.input.flush()?;
        self.read_line()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sets key=value through whichever server leads.
fn tcp_set(servers: &mut [Option<Server>], key: &str, value: &str) -> std::io::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut target = 0;
    loop {
        if let Some(s) = servers[target].as_mut() {
            let answer = s.ask(&format!("set {key} {value}"))?;
            if let Some(old) = answer
                .strip_prefix("ok ")
                .or((answer == "ok").then_some(""))
            {
                return Ok(old.to_string());
            }
            if let Some(l) = answer.strip_prefix("notleader ") {
                match l.parse::<usize>() {
                    Ok(l) if l >= 1 && l <= servers.len() && servers[l - 1].is_some() => {
                        target = l - 1;
                        continue;
                    }
                    _ => {}
                }
            }
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(format!(
                "set {key}: no leader took it"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
        target = (target + 1) % servers.len();
    }
}

/// Reads key on every live server; they must all answer `want`.
fn tcp_check(servers: &mut [Option<Server>], key: &str, want: &str) -> std::io::Result<()> {
    for (k, s) in servers.iter_mut().enumerate() {
        if let Some(s) = s {
            let got = s.ask(&format!("get {key}"))?;
            println!("server {} reads {key}: {got}", k + 1);
            if got != format!("value {want}") {
                return Err(std::io::Error::other(format!(
                    "server {} reads {key}: {got}, want {want}",
                    k + 1
                )));
            }
        }
    }
    Ok(())
}

fn free_addresses(n: usize) -> std::io::Result<Vec<String>> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect()
}

fn over_tcp(dir: &Path) -> std::io::Result<()> {
    let addrs = free_addresses(3)?;
    let peers = addrs
        .iter()
        .enumerate()
        .map(|(k, a)| format!("{}={a}", k + 1))
        .collect::<Vec<_>>()
        .join(",");
    std::fs::create_dir_all(dir)?;
    println!("three servers: {peers}, data under {}", dir.display());
    let mut servers: Vec<Option<Server>> = (1..=3)
        .map(|id| Server::start(id, dir, &peers).map(Some))
        .collect::<Result<_, _>>()?;
    tcp_set(&mut servers, "color", "red")?;
    let old = tcp_set(&mut servers, "color", "blue")?;
    println!("set color=blue (was {old:?})");
    tcp_check(&mut servers, "color", "blue")?;

    let leader = servers[0].as_mut().expect("live").ask("leader")?;
    let leader: usize = leader
        .strip_prefix("leader ")
        .and_then(|l| l.parse().ok())
        .filter(|&l| (1..=3).contains(&l))
        .ok_or_else(|| std::io::Error::other(format!("no leader: {leader}")))?;
    println!("killing the leader's process (server {leader})");
    servers[leader - 1] = None; // SIGKILL
    tcp_set(&mut servers, "shape", "circle")?;
    println!("set shape=circle without it");

    servers[leader - 1] = Some(Server::start(leader as u64, dir, &peers)?);
    println!("server {leader} restarted from its directory");
    let deadline = Instant::now() + Duration::from_secs(30);
    let s = servers[leader - 1].as_mut().expect("restarted");
    while s.ask("get shape")? != "value circle" {
        if Instant::now() > deadline {
            return Err(std::io::Error::other(
                "the restarted server did not catch up",
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tcp_check(&mut servers, "color", "blue")?;
    tcp_check(&mut servers, "shape", "circle")?;
    println!("all three agree");
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => in_process().map_err(|e| e.to_string()),
        ["tcp", rest @ ..] => {
            let (dir, temporary) = match rest.first() {
                Some(d) => (PathBuf::from(d), false),
                None => (
                    std::env::temp_dir().join(format!("craft-kv-{}", std::process::id())),
                    true,
                ),
            };
            let r = over_tcp(&dir).map_err(|e| e.to_string());
            if temporary {
                let _ = std::fs::remove_dir_all(&dir);
            }
            r
        }
        ["serve", id, dir, peers] => match id.parse() {
            Ok(id) => serve(id, Path::new(dir), peers).map_err(|e| e.to_string()),
            Err(_) => Err(format!("bad id {id:?}")),
        },
        _ => Err("usage: kv [tcp [DIR] | serve ID DIR PEERS]".to_string()),
    };
    if let Err(e) = result {
        eprintln!("kv: {e}");
        std::process::exit(1);
    }
}
