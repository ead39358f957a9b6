#!/usr/bin/env python3
"""A replicated dict: three craft nodes agree on every set and delete.

    python kv.py              three nodes in this process (craft.Hub,
                              craft.MemStorage): writes, reads on every
                              node, the leader dies, a new one is elected,
                              the dead node comes back and catches up.

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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.parse_args(argv)
    return in_process()


if __name__ == "__main__":
    sys.exit(main())
