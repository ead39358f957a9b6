#!/usr/bin/env python3
"""A replicated dict: three craft nodes agree on every set and delete.

    python kv.py              three nodes in this process (craft.Hub,
                              craft.MemStorage): writes, reads on every
                              node, the leader dies, a new one is elected,
                              the dead node comes back and catches up.
    python kv.py tcp [--dir D]  the same story with three processes that
                              talk TCP (craft.TcpTransport) and keep their
                              state in files (craft.FileStorage, under D):
                              the leader's process is killed and restarted
                              from its directory.
    python kv.py serve --id N --listen HOST:PORT --peers 1=HOST:PORT,...
                  --dir D     one server of that cluster; reads commands
                              on stdin ("set k v", "get k", "del k",
                              "leader", "quit"), answers one line each.

The state machine (KV below) is all the replication-specific code an
application writes: apply() runs the same commands in the same order on
every node; snapshot() / restore() let a node that fell behind, or
restarts, skip the log.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import craft


class KV(craft.StateMachine):
    """A dict of str -> str. Commands are JSON: {"op": "set", "key": k,
    "value": v} or {"op": "del", "key": k}; apply returns the previous
    value (JSON), so a writer learns what it replaced."""

    def __init__(self):
        self.data = {}

    def apply(self, index, term, data):
        cmd = json.loads(data)
        old = self.data.get(cmd["key"])
        if cmd["op"] == "set":
            self.data[cmd["key"]] = cmd["value"]
        elif cmd["op"] == "del":
            self.data.pop(cmd["key"], None)
        return json.dumps(old).encode()

    def snapshot(self, writer):
        writer.write(json.dumps(self.data).encode())

    def restore(self, reader):
        self.data = json.loads(reader.read())


def set_cmd(key, value):
    return json.dumps({"op": "set", "key": key, "value": value}).encode()


def del_cmd(key):
    return json.dumps({"op": "del", "key": key}).encode()


def leader_of(nodes, timeout=10.0):
    """The node the others agree is the leader (waits for one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        open_ = [n for n in nodes if not n.closed]
        for n in open_:
            if n.is_leader and all(m.leader == n.id for m in open_):
                return n
        time.sleep(0.01)
    raise SystemExit("no leader within %.0f s" % timeout)


def in_process():
    ids = [1, 2, 3]
    hub = craft.Hub()
    storage = {i: craft.MemStorage() for i in ids}
    nodes = {i: craft.Node(i, storage=storage[i], transport=hub, fsm=KV())
             for i in ids}
    for n in nodes.values():
        n.bootstrap(ids)
    for n in nodes.values():
        n.start()

    leader = leader_of(nodes.values())
    print("node %d is the leader (term %d)" % (leader.id, leader.term))
    for k, v in (("apple", "red"), ("banana", "yellow"), ("cherry", "dark red")):
        r = leader.propose(set_cmd(k, v))
        print("  set %-7s = %-9s at index %d" % (k, v, r.index))
    r = leader.propose(set_cmd("cherry", "red"))
    print("  set cherry  = red       replaced %s" % json.loads(r.data))

    for n in nodes.values():
        print("node %d reads %s" % (n.id, n.read(lambda kv: dict(kv.data))))

    print("node %d dies" % leader.id)
    dead = leader.id
    leader.close()
    leader = leader_of(nodes.values())
    print("node %d is the new leader (term %d)" % (leader.id, leader.term))
    leader.propose(del_cmd("banana"))
    print("  del banana")

    print("node %d restarts from its storage" % dead)
    nodes[dead] = craft.Node(dead, storage=storage[dead], transport=hub, fsm=KV())
    nodes[dead].start()
    while not nodes[dead].leader:
        time.sleep(0.01)
    for n in nodes.values():
        print("node %d reads %s" % (n.id, n.read(lambda kv: dict(kv.data))))
    states = {json.dumps(n.read(lambda kv: kv.data), sort_keys=True)
              for n in nodes.values()}
    for n in nodes.values():
        n.close()
    if len(states) != 1:
        print("the nodes disagree!")
        return 1
    print("all three agree")
    return 0


def serve(args):
    peers = {}
    for item in args.peers.split(","):
        i, _, addr = item.partition("=")
        peers[int(i)] = addr
    storage = craft.FileStorage(args.dir, node_id=args.id, cluster_id=0x6b76)
    transport = craft.TcpTransport(peers[args.id], cluster_id=0x6b76)
    node = craft.Node(args.id, storage=storage, transport=transport, fsm=KV(),
                      wait_leader=1)
    try:
        node.bootstrap(peers)            # a new cluster...
    except craft.StateError:
        pass                             # ...or a restart: state on disk
    node.start()
    print("ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "set":
                r = node.propose(set_cmd(words[1], words[2]), timeout=5)
                print("ok %d" % r.index, flush=True)
            elif words[0] == "del":
                r = node.propose(del_cmd(words[1]), timeout=5)
                print("ok %d" % r.index, flush=True)
            elif words[0] == "get":
                v = node.read(lambda kv: kv.data.get(words[1]), timeout=5)
                print("value %s" % json.dumps(v), flush=True)
            elif words[0] == "leader":
                print("leader %d" % node.leader, flush=True)
            elif words[0] == "quit":
                break
            else:
                print("error unknown command", flush=True)
        except craft.NotLeader as e:
            print("redirect %d" % e.leader, flush=True)
        except craft.Error as e:
            print("error %s" % e, flush=True)
    node.close()
    transport.close()
    storage.close()
    return 0


class Server:
    """One `kv.py serve` process, driven through its stdin/stdout."""

    def __init__(self, i, peers, directory):
        import subprocess
        self.id = i
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", "--id", str(i), "--listen",
             peers[i], "--peers", ",".join("%d=%s" % kv for kv in peers.items()),
             "--dir", "%s/n%d" % (directory, i)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.ask(None) == "ready"

    def ask(self, line):
        if line is not None:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.ask("quit")
            self.proc.wait(10)


def write(servers, line):
    """Sends a write to the servers until the leader takes it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for s in servers.values():
            if s.proc.poll() is not None:
                continue
            answer = s.ask(line)
            if answer.startswith("ok"):
                return s.id, answer
        time.sleep(0.1)
    raise SystemExit("no server took %r" % line)


def free_ports(n):
    import socket
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def over_tcp(directory):
    import tempfile
    if not hasattr(craft.lowlevel, "craft_tcp_create"):
        print("this libcraft has no TCP transport (craft/tcp.h) yet")
        return 2
    tmp = None
    if directory is None:
        tmp = tempfile.TemporaryDirectory()
        directory = tmp.name
    ports = free_ports(3)
    peers = {i: "127.0.0.1:%d" % p for i, p in zip((1, 2, 3), ports)}
    servers = {i: Server(i, peers, directory) for i in peers}
    try:
        for k, v in (("apple", "red"), ("banana", "yellow")):
            lead, answer = write(servers, "set %s %s" % (k, v))
            print("set %s = %s on server %d: %s" % (k, v, lead, answer))
        for s in servers.values():
            print("server %d: get apple -> %s" % (s.id, s.ask("get apple")))
        print("killing server %d (the leader)" % lead)
        servers[lead].kill()
        new, answer = write(servers, "set cherry red")
        print("set cherry = red on server %d: %s" % (new, answer))
        print("restarting server %d from %s/n%d" % (lead, directory, lead))
        servers[lead] = Server(lead, peers, directory)
        answers = {s.id: s.ask("get cherry") for s in servers.values()}
        print("get cherry -> %s" % answers)
        ok = set(answers.values()) == {'value "red"'}
        print("all three agree" if ok else "the servers disagree!")
        return 0 if ok else 1
    finally:
        for s in servers.values():
            try:
                s.stop()
            except Exception:
                s.kill()
        if tmp is not None:
            tmp.cleanup()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode")
    t = sub.add_parser("tcp", help="three processes over TCP and files")
    t.add_argument("--dir", default=None)
    s = sub.add_parser("serve", help="one server")
    s.add_argument("--id", type=int, required=True)
    s.add_argument("--listen", required=True)
    s.add_argument("--peers", required=True)
    s.add_argument("--dir", required=True)
    args = ap.parse_args(argv)
    if args.mode == "tcp":
        return over_tcp(args.dir)
    if args.mode == "serve":
        return serve(args)
    return in_process()


if __name__ == "__main__":
    sys.exit(main())
