package craft

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"strings"
	"unsafe"
)

// Role is a server's Raft role.
type Role int

// Raft roles.
const (
	RoleFollower     Role = C.CRAFT_ROLE_FOLLOWER
	RolePreCandidate Role = C.CRAFT_ROLE_PRE_CANDIDATE
	RoleCandidate    Role = C.CRAFT_ROLE_CANDIDATE
	RoleLeader       Role = C.CRAFT_ROLE_LEADER
)

func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RolePreCandidate:
		return "pre-candidate"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Progress is the replication state of a member, as seen by the leader.
type Progress int

// Replication states (probing for the match index, streaming entries,
// sending a snapshot).
const (
	ProgressProbe     Progress = C.CRAFT_PROGRESS_STATE_PROBE
	ProgressReplicate Progress = C.CRAFT_PROGRESS_STATE_REPLICATE
	ProgressSnapshot  Progress = C.CRAFT_PROGRESS_STATE_SNAPSHOT
)

// Member is one server of the membership.
type Member struct {
	ID    uint64
	Voter bool   // false: a learner
	Addr  string // its address in the membership, "" when none
	// The leader's view of its replication (zero on other servers).
	Match, Next uint64
	Progress    Progress
}

// Status is a consistent copy of a node's state.
type Status struct {
	ID            uint64
	Role          Role
	Term          uint64
	Leader        uint64 // 0: none known
	CommitIndex   uint64
	AppliedIndex  uint64
	LastIndex     uint64
	SnapshotIndex uint64
	Members       []Member
}

// Status returns a consistent copy of the node's state, made by craft's
// driver between two steps (it waits for it). ErrState from inside the
// node's own callbacks.
func (n *Node) Status() (Status, error) {
	if !n.enter() {
		return Status{}, &Error{Op: "status", Code: ErrShutdown}
	}
	defer n.leave()
	var st *C.craft_status
	if rc := C.craft_node_status(n.c, &st); rc != 0 {
		return Status{}, n.errorOf("status", rc)
	}
	defer C.craft_status_free(st)
	s := Status{
		ID:            uint64(C.craft_status_id(st)),
		Role:          Role(C.craft_status_role(st)),
		Term:          uint64(C.craft_status_term(st)),
		Leader:        uint64(C.craft_status_leader(st)),
		CommitIndex:   uint64(C.craft_status_commit_index(st)),
		AppliedIndex:  uint64(C.craft_status_applied_index(st)),
		LastIndex:     uint64(C.craft_status_last_index(st)),
		SnapshotIndex: uint64(C.craft_status_snapshot_index(st)),
	}
	s.Members = members(st)
	return s, nil
}

func members(st *C.craft_status) []Member {
	var ms []Member
	count := int(C.craft_status_member_count(st))
	for k := 0; k < count; k++ {
		var id, match, next C.uint64_t
		var role, progress C.int
		if C.craft_status_member(st, C.size_t(k), &id, &role, &match, &next, &progress) != 0 {
			continue
		}
		m := Member{ID: uint64(id), Voter: role == C.CRAFT_VOTER,
			Match: uint64(match), Next: uint64(next), Progress: Progress(progress)}
		var addr unsafe.Pointer
		var alen C.size_t
		if C.craft_status_member_addr(st, C.size_t(k), &addr, &alen) == 0 && alen > 0 {
			m.Addr = C.GoStringN((*C.char)(addr), C.int(alen))
		}
		ms = append(ms, m)
	}
	return ms
}

// Membership returns the node's latest configuration (thesis §4.1)
// without waiting for craft's driver, with its version: a number that
// grows with every change (0 while the node has no membership). Replication
// progress fields are zero. Cheap; also from callbacks.
func (n *Node) Membership() ([]Member, uint64, error) {
	if !n.enter() {
		return nil, 0, &Error{Op: "membership", Code: ErrShutdown}
	}
	defer n.leave()
	var st *C.craft_status
	var version C.uint64_t
	if rc := C.craft_node_membership(n.c, &st, &version); rc != 0 {
		return nil, 0, codeError("membership", rc)
	}
	defer C.craft_status_free(st)
	return members(st), uint64(version), nil
}

// MembershipVersion returns the version of the node's membership: it grows
// with every change; cheap enough to poll.
func (n *Node) MembershipVersion() uint64 {
	return n.cheap(func(c *C.craft_node) C.uint64_t { return C.craft_node_membership_version(c) })
}

// The cheap reads below return the node's latest known state without
// waiting for craft's driver (zero after Close).

func (n *Node) cheap(fn func(c *C.craft_node) C.uint64_t) uint64 {
	if !n.enter() {
		return 0
	}
	defer n.leave()
	return uint64(fn(n.c))
}

// Role returns the node's current role (0 after Close).
func (n *Node) Role() Role {
	return Role(n.cheap(func(c *C.craft_node) C.uint64_t { return C.uint64_t(C.craft_node_role(c)) }))
}

// IsLeader reports whether the node currently believes it leads.
func (n *Node) IsLeader() bool { return n.Role() == RoleLeader }

// Term returns the node's current term.
func (n *Node) Term() uint64 {
	return n.cheap(func(c *C.craft_node) C.uint64_t { return C.craft_node_term(c) })
}

// Leader returns the leader the node knows, 0 when none.
func (n *Node) Leader() uint64 {
	return n.cheap(func(c *C.craft_node) C.uint64_t { return C.craft_node_leader(c) })
}

// AppliedIndex returns the last entry the state machine applied.
func (n *Node) AppliedIndex() uint64 {
	return n.cheap(func(c *C.craft_node) C.uint64_t { return C.craft_node_applied_index(c) })
}

// ---- metrics ------------------------------------------------------------

// MetricKind tells a counter (only grows) from a gauge.
type MetricKind int

// Kinds of metrics.
const (
	Counter MetricKind = 1
	Gauge   MetricKind = 2
)

// Metric describes one of craft's metrics.
type Metric struct {
	ID   int
	Name string // Prometheus name, e.g. "craft_elections_total"
	Help string
	Kind MetricKind
}

// Metrics lists craft's metrics, in id order (ids are stable).
func Metrics() []Metric {
	var ms []Metric
	for id := C.int(1); ; id++ {
		name := C.craft_metric_name(id)
		if name == nil {
			return ms
		}
		ms = append(ms, Metric{ID: int(id), Name: C.GoString(name),
			Help: C.GoString(C.craft_metric_help(id)), Kind: MetricKind(C.craft_metric_kind(id))})
	}
}

// Metrics returns the current value of every metric, by name.
func (n *Node) Metrics() map[string]uint64 {
	out := map[string]uint64{}
	if !n.enter() {
		return out
	}
	defer n.leave()
	for id := C.int(1); ; id++ {
		name := C.craft_metric_name(id)
		if name == nil {
			return out
		}
		var v C.uint64_t
		if C.craft_node_metric(n.c, id, &v) == 0 {
			out[C.GoString(name)] = uint64(v)
		}
	}
}

// MetricsText renders every metric in the Prometheus text exposition
// format, each sample labelled node="<id>".
func (n *Node) MetricsText() (string, error) {
	if !n.enter() {
		return "", &Error{Op: "metrics", Code: ErrShutdown}
	}
	defer n.leave()
	var need C.size_t
	rc := C.craft_node_metrics_text(n.c, nil, 0, &need)
	if rc != 0 && rc != C.CRAFT_ETOOBIG {
		return "", codeError("metrics", rc)
	}
	buf := make([]byte, int(need)+1)
	if rc := C.craft_node_metrics_text(n.c, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &need); rc != 0 {
		return "", codeError("metrics", rc)
	}
	return strings.TrimRight(string(buf[:need]), "\x00"), nil
}
