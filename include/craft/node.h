/*
 * craft/node.h: the node runtime. Include <craft.h> rather than this file.
 *
 * A craft_node owns one engine (craft/engine.h) and two threads:
 *
 *  - the DRIVER thread steps the engine. Timer ticks (every tick_ms), the
 *    bytes peers send (craft_node_receive) and the API calls below reach
 *    it through one queue. It carries out the engine's actions in order:
 *    storage writes through the storage callbacks, batched so that one
 *    sync covers every write of a round (group commit); sends through the
 *    transport callback, each held back until the writes it depends on are
 *    durable (Raft Figure 2), while a leader's replication of its own new
 *    entries goes out before its own write (thesis §10.2.1); committed
 *    entries into the apply queue.
 *  - the APPLY thread owns the user's state machine. It applies committed
 *    entries in log order, runs linearizable-read callbacks in FIFO order
 *    with the applies, takes and restores snapshots, and runs every
 *    completion callback.
 *
 * Threads of the callbacks (since 1.1, with the inline_rounds option, on
 * by default): when the driver thread is idle, a thread that would wake
 * it and wait runs the driver's round itself, as a "guest" (combining:
 * the caller does the work instead of a sleep and a wake-up): a thread
 * blocked in craft_node_propose_wait or craft_node_read_wait while few
 * proposals are pending, a thread delivering bytes with
 * craft_node_receive_inline, and the apply thread after its callbacks
 * queued calls. The storage, transport and trace callbacks of the driver
 * then run on that thread; never two rounds of one node at a time, so
 * they are still never called concurrently for one node, and each round
 * sees the previous one's writes. The state machine (craft_fsm_ops) and
 * every completion callback still run on the apply thread only, one at a
 * time, in order. A callback that runs on a guest thread is on the
 * node's own thread: the blocking calls refuse (CRAFT_ESTATE) there too.
 * With inline_rounds 0 the driver thread runs every round, as in 1.0.
 *
 * Life cycle: craft_node_create() (loads the persisted state through the
 * storage callbacks), optionally craft_node_bootstrap() to found a new
 * cluster, craft_node_start() (starts the threads), the calls below,
 * craft_node_shutdown() (completes every pending call, joins the threads)
 * and craft_node_free().
 *
 * Asynchronous calls take a completion callback (craft_node_cb). The
 * libuv promise holds for every one of them: when the call returns an
 * error, the callback is never invoked; when it returns CRAFT_OK, the
 * callback is invoked exactly once, on the apply thread (on a node that
 * was never started: on the thread calling craft_node_shutdown()), at
 * the latest shortly after the call's deadline or at shutdown.
 *
 * Deadlines: every call that waits for the cluster takes timeout_ms; 0
 * means the node's default (craft_node_options.request_timeout_ms). A call
 * whose deadline passes before it is decided completes with
 * CRAFT_ETIMEDOUT (a proposal already committed and handed to the apply
 * thread completes with its result instead, however late); a leader cut
 * off in a minority thus fails proposals and
 * reads by their deadline (or sooner with CRAFT_ESTEPPEDDOWN when it steps
 * down, thesis §6.2 check-quorum) and never hangs. A proposal that timed
 * out or failed with CRAFT_ESTEPPEDDOWN may still be committed later: its
 * outcome is unknown, as in every Raft system.
 *
 * Backpressure: the apply queue is bounded (apply_queue_entries and
 * apply_queue_bytes). A leader admits new proposals only while the
 * entries waiting to be applied plus its uncommitted entries stay below
 * the bound; beyond it, proposals wait in the node (up to max_pending,
 * then craft_node_propose returns CRAFT_EBUSY) and time out by their
 * deadline. Ticks, heartbeats and replies keep flowing meanwhile, so a
 * slow state machine slows the clients, never the cluster's liveness. A
 * follower whose backlog exceeds twice the bound stops taking in messages
 * until it drains: the leader then sees it as a slow peer.
 *
 * Thread-safety: unless a function says otherwise it may be called from
 * any thread, concurrently with every other call on the same node except
 * craft_node_free(). A callback must not block for long and must not call
 * the blocking functions (craft_node_propose_wait, craft_node_read_wait,
 * craft_node_status, craft_node_shutdown, craft_node_free) on its own
 * node: they return CRAFT_ESTATE when called from the node's threads,
 * guests running its round included (a trace or fsm
 * callback that craft_node_bootstrap/start/shutdown run on the caller's
 * thread must not call them either).
 *
 * src/node/README.md describes the implementation.
 */
#ifndef CRAFT_NODE_H
#define CRAFT_NODE_H

#include "common.h"
#include "engine.h"

CRAFT_BEGIN_DECLS

typedef struct craft_node craft_node;
/* Given to craft_storage_ops.load: feeds the persisted state in. */
typedef struct craft_loader craft_loader;
/* Given to craft_fsm_ops.snapshot / .restore: the snapshot's bytes. */
typedef struct craft_snapshot_writer craft_snapshot_writer;
typedef struct craft_snapshot_reader craft_snapshot_reader;
/* The outcome of an asynchronous call. */
typedef struct craft_result craft_result;
/* A point-in-time copy of a node's state (craft_node_status). */
typedef struct craft_status craft_status;
/* One structured trace event. */
typedef struct craft_trace_event craft_trace_event;

/* ---- storage --------------------------------------------------------- */

/* craft_storage_ops.snapshot_write flags. */
#define CRAFT_SNAPSHOT_F_LAST 0x1u /* the snapshot is complete */
/* A chunk of a snapshot taken locally, streamed (storage that sets
 * CRAFT_STORAGE_F_STREAM_LOCAL only). Since 1.1. */
#define CRAFT_SNAPSHOT_F_LOCAL 0x2u

/* craft_storage_ops.flags. Since 1.1. */
/* snapshot_write takes a local snapshot in chunks (see below). */
#define CRAFT_STORAGE_F_STREAM_LOCAL 0x1u

/*
 * Storage callbacks: the node's durable state. Fill with
 * craft_storage_ops_init() or CRAFT_STORAGE_OPS_INIT, then set user and
 * the methods. The struct is copied by craft_node_create().
 *
 * Threads: the node never calls two storage methods at the same time.
 * load runs on the thread calling craft_node_create(); the writes of
 * craft_node_bootstrap() on the thread calling it; snapshot_read on the
 * thread calling craft_node_start() (restoring the snapshot loaded at
 * start) and on the apply thread (restoring a snapshot received from the
 * leader, while the driver waits for it); every other call on the driver
 * thread or on a thread running the driver's round as a guest (see the
 * top of this file). Every method returns CRAFT_OK or a negative code; a failing
 * write stops the node (fail-stop: it can no longer keep Raft's promises):
 * pending and later calls fail with CRAFT_EIO and the trace event
 * storage.failed says which method failed.
 *
 * load (required): feed the persisted state to the node through the
 *   craft_loader_*() functions: the hard state, then the latest complete
 *   snapshot's metadata if any, then the log entries in index order.
 *   Entries at or below the snapshot index are skipped. An empty storage
 *   feeds nothing.
 * save_hard_state (required): record (term, vote), replacing the old one.
 * append (required): write one log entry at index (the log after index-1);
 *   data is borrowed for the call. Entries of one round arrive one call
 *   each, then one sync.
 * truncate (required): delete log entries >= index.
 * sync (optional): make every write so far durable. NULL: writes are
 *   durable when they return.
 * snapshot_write (required): write len bytes at offset of the snapshot at
 *   index (term). offset 0 starts a new snapshot; the current one stays in
 *   force until the new one completes. With CRAFT_SNAPSHOT_F_LAST the new
 *   snapshot is complete: store conf (the engine's membership bytes,
 *   conf_len > 0, borrowed) with it and make it the current one (the node
 *   calls sync next). Log entries <= index may then be dropped; a LAST
 *   write whose index is not newer than the current snapshot's may be
 *   ignored. The chunks of a snapshot received from the leader arrive in
 *   order; a snapshot taken locally arrives in one call (offset 0 with
 *   CRAFT_SNAPSHOT_F_LAST), possibly between two chunks of a received one
 *   (whose index is then higher): it must not disturb it.
 *   With CRAFT_STORAGE_F_STREAM_LOCAL in flags, a snapshot taken locally
 *   arrives instead in chunks flagged CRAFT_SNAPSHOT_F_LOCAL, in order
 *   from offset 0, as the state machine writes them (so the node holds at
 *   most one chunk, the engine's snapshot_chunk_bytes, of it in memory):
 *   every chunk but the last from the apply thread, the last (with
 *   CRAFT_SNAPSHOT_F_LAST and conf) from the driver. They interleave with
 *   the chunks of a received snapshot and must not disturb it. A local
 *   snapshot may be abandoned (the state machine failed, or a received
 *   one won): it then gets no final chunk, and the next local chunk at
 *   offset 0 starts over. The node still never calls two storage methods
 *   at the same time.
 * snapshot_read (required): copy up to count bytes at offset of the
 *   current snapshot at index into buf, set *n to the number copied and
 *   *last to 1 when they end the snapshot (else 0). CRAFT_ENOENT when the
 *   snapshot at index is gone.
 */
typedef struct craft_storage_ops {
    uint32_t struct_size; /* sizeof(craft_storage_ops) */
    void *user;           /* passed to every method */
    int (*load)(void *user, craft_loader *loader);
    int (*save_hard_state)(void *user, uint64_t term, uint64_t vote);
    int (*append)(void *user, uint64_t index, uint64_t term, uint32_t type,
                  const void *data, size_t len);
    int (*truncate)(void *user, uint64_t index);
    int (*sync)(void *user);
    int (*snapshot_write)(void *user, uint64_t index, uint64_t term,
                          uint64_t offset, const void *data, size_t len,
                          const void *conf, size_t conf_len, uint32_t flags);
    int (*snapshot_read)(void *user, uint64_t index, uint64_t offset,
                         void *buf, size_t count, size_t *n, int *last);
    uint32_t flags; /* CRAFT_STORAGE_F_*; 0 by default. Since 1.1. */
} craft_storage_ops;

#define CRAFT_STORAGE_OPS_INIT                                                \
    { (uint32_t)sizeof(craft_storage_ops), NULL, NULL, NULL, NULL, NULL,      \
      NULL, NULL, NULL, 0 }

/* Fills *ops like CRAFT_STORAGE_OPS_INIT. CRAFT_EINVAL on NULL. */
CRAFT_API int craft_storage_ops_init(craft_storage_ops *ops);

/*
 * The loader functions, for craft_storage_ops.load only (the loader is
 * valid during that call). They check what they are fed like
 * craft_engine_load_*() and return its errors (CRAFT_EINVAL for a gap in
 * the indexes or a term going down, CRAFT_EMALFORMED for bad membership
 * bytes, CRAFT_ESTATE out of order, CRAFT_ENOMEM); load should return the
 * error, which craft_node_create() then returns. data and conf are copied.
 */
CRAFT_API int craft_loader_hard_state(craft_loader *loader, uint64_t term,
                                      uint64_t vote);
CRAFT_API int craft_loader_snapshot(craft_loader *loader, uint64_t index,
                                    uint64_t term, const void *conf,
                                    size_t conf_len);
CRAFT_API int craft_loader_entry(craft_loader *loader, uint64_t index,
                                 uint64_t term, uint32_t type,
                                 const void *data, size_t len);

/* ---- transport ------------------------------------------------------- */

/*
 * Transport callbacks. Fill with craft_transport_ops_init() or
 * CRAFT_TRANSPORT_OPS_INIT. The struct is copied by craft_node_create().
 *
 * send (required), on the driver thread (or a guest running its round,
 *   see the top of this file; never two at a time for a node): deliver
 *   len bytes to peer, whose node passes them to craft_node_receive() or
 *   craft_node_receive_inline(). The bytes are borrowed for
 *   the call: copy them. send must not block: return CRAFT_OK when the
 *   bytes were taken (delivery may still fail: Raft retransmits),
 *   CRAFT_EBUSY to have the node keep them and retry later, any other
 *   error to drop them. The node queues at most peer_queue_messages /
 *   peer_queue_bytes per peer and drops what does not fit, so a slow or
 *   dead peer never stalls the others.
 */
typedef struct craft_transport_ops {
    uint32_t struct_size; /* sizeof(craft_transport_ops) */
    void *user;
    int (*send)(void *user, uint64_t peer, const void *data, size_t len);
} craft_transport_ops;

#define CRAFT_TRANSPORT_OPS_INIT                                              \
    { (uint32_t)sizeof(craft_transport_ops), NULL, NULL }

/* Fills *ops like CRAFT_TRANSPORT_OPS_INIT. CRAFT_EINVAL on NULL. */
CRAFT_API int craft_transport_ops_init(craft_transport_ops *ops);

/* ---- state machine --------------------------------------------------- */

/*
 * State machine callbacks. Fill with craft_fsm_ops_init() or
 * CRAFT_FSM_OPS_INIT. The struct is copied by craft_node_create(). They
 * run on the apply thread (restore also on the thread calling
 * craft_node_start() when a snapshot was loaded), one at a time, so the
 * state machine needs no lock of its own against them.
 *
 * apply (required): apply the committed entry index (term), a user
 *   payload (data borrowed for the call; len may be 0). Set *result and
 *   *result_len (both start NULL/0) to bytes for the proposer: they are
 *   borrowed by the node until the next fsm callback. Return CRAFT_OK, or
 *   an error: the entry counts as applied anyway (it is committed), and
 *   its proposer gets CRAFT_ECALLBACK. Apply must be deterministic.
 * snapshot (optional): write the whole state as of the last applied entry
 *   (index, term) with craft_snapshot_writer_write(). NULL: the node never
 *   takes a snapshot and its log grows forever.
 * restore (required if snapshot is set): replace the whole state by the
 *   snapshot at index (term), read with craft_snapshot_reader_read().
 *   Called for the snapshot loaded at start and for one received from the
 *   leader. NULL: receiving a snapshot stops the node (CRAFT_EIO).
 */
typedef struct craft_fsm_ops {
    uint32_t struct_size; /* sizeof(craft_fsm_ops) */
    void *user;
    int (*apply)(void *user, uint64_t index, uint64_t term, const void *data,
                 size_t len, const void **result, size_t *result_len);
    int (*snapshot)(void *user, uint64_t index, uint64_t term,
                    craft_snapshot_writer *w);
    int (*restore)(void *user, uint64_t index, uint64_t term,
                   craft_snapshot_reader *r);
} craft_fsm_ops;

#define CRAFT_FSM_OPS_INIT                                                    \
    { (uint32_t)sizeof(craft_fsm_ops), NULL, NULL, NULL, NULL }

/* Fills *ops like CRAFT_FSM_OPS_INIT. CRAFT_EINVAL on NULL. */
CRAFT_API int craft_fsm_ops_init(craft_fsm_ops *ops);

/*
 * Appends len bytes to the snapshot being taken (data is copied). Only
 * inside craft_fsm_ops.snapshot. With a storage that sets
 * CRAFT_STORAGE_F_STREAM_LOCAL the bytes go to the storage whenever a
 * chunk is full (memory stays bounded whatever the snapshot's size) and
 * the storage's error is returned (the node then stops, as for any failed
 * storage write); else the node buffers the whole snapshot. CRAFT_EINVAL
 * on NULL, CRAFT_ENOMEM.
 */
CRAFT_API int craft_snapshot_writer_write(craft_snapshot_writer *w,
                                          const void *data, size_t len);
/*
 * Reads up to cap bytes of the snapshot being restored into buf; *n is
 * the number read, 0 at the end. Only inside craft_fsm_ops.restore.
 * CRAFT_EINVAL on NULL, or the storage's error.
 */
CRAFT_API int craft_snapshot_reader_read(craft_snapshot_reader *r, void *buf,
                                         size_t cap, size_t *n);

/* ---- trace ----------------------------------------------------------- */

enum craft_trace_level {
    CRAFT_TRACE_ERROR = 1,
    CRAFT_TRACE_WARN = 2,
    CRAFT_TRACE_INFO = 3,
    CRAFT_TRACE_DEBUG = 4
};

/* Types of a trace field's value. */
enum craft_field_type {
    CRAFT_FIELD_U64 = 1,
    CRAFT_FIELD_I64 = 2,
    CRAFT_FIELD_STR = 3
};

/*
 * Trace events: the ids, targets and names are a contract (a test fails
 * when one changes); new ones are only ever appended. Every event's first
 * field is node_id (u64). Target "craft.engine": what the engine decided,
 * seen through its actions; target "craft.node": what the runtime did.
 *
 *  id name                target        level  fields after node_id
 *   1 node.started        craft.node    INFO   term, last_index,
 *                                              snapshot_index
 *   2 node.stopped        craft.node    INFO   term, applied_index
 *   3 role.changed        craft.engine  DEBUG  role, term, leader
 *   4 election.started    craft.engine  INFO   term, prevote (1: pre-vote)
 *   5 leader.elected      craft.engine  INFO   term, leader
 *   6 leader.lost         craft.engine  INFO   term
 *   7 term.changed        craft.engine  INFO   term, previous
 *   8 membership.changed  craft.engine  INFO   voters, learners, index
 *   9 snapshot.requested  craft.engine  DEBUG  index
 *  10 snapshot.taken      craft.node    INFO   index, term, bytes
 *  11 snapshot.installed  craft.node    INFO   index, term
 *  12 backpressure.on     craft.node    INFO   entries, bytes
 *  13 backpressure.off    craft.node    INFO   entries, bytes
 *  14 send.dropped        craft.node    WARN   peer, queued (once per
 *                                              episode of a full queue)
 *  15 message.invalid     craft.node    WARN   error, bytes
 *  16 storage.failed      craft.node    ERROR  op (str), error
 *  17 apply.failed        craft.node    WARN   index, error
 *  18 commit.advanced     craft.engine  DEBUG  index
 *
 * Target "craft.storage": the file storage (craft/storage.h), through the
 * trace callback of its own options; node_id is the one in its options
 * (0 when not set).
 *
 *  19 storage.opened          INFO   first_index, last_index,
 *                                    snapshot_index, segments
 *  20 storage.tail_truncated  WARN   index (first index cut), bytes (cut,
 *                                    to the last non-zero one), offset,
 *                                    file (str)
 *  21 storage.corrupt         ERROR  offset, file (str), error
 *  22 storage.io_failed       ERROR  op (str), file (str), errno (i64)
 *  23 storage.segment_created DEBUG  index (its first), file (str)
 *  24 storage.log_truncated   DEBUG  index (entries >= index deleted)
 *  25 storage.snapshot_saved  INFO   index, term, bytes
 *  26 storage.compacted       DEBUG  index (the snapshot's), segments
 *                                    (deleted)
 *
 * Target "craft.transport": the TCP transport (craft/tcp.h), through the
 * trace callback of its own options; node_id is the one in its options.
 * direction is "out" (a connection this server made) or "in" (one it
 * accepted); peer is 0 when unknown (bytes that were not a hello).
 *
 *  27 transport.listening       INFO  port, address (str: as bound)
 *  28 transport.connected       INFO  peer, address (str): our hello was
 *                                     accepted; messages flow
 *  29 transport.accepted        INFO  peer, remote (str): a peer's hello
 *                                     was accepted
 *  30 transport.disconnected    INFO  peer, direction (str), reason (str:
 *                                     eof, error, frame_too_big,
 *                                     frame_empty, stalled, unexpected,
 *                                     removed, address_changed,
 *                                     replaced, detached, shutdown),
 *                                     errno (i64, 0 when none)
 *  31 transport.refused         WARN  peer, direction (str), reason (str:
 *                                     magic, version, cluster, receiver,
 *                                     malformed, timeout), remote (str).
 *                                     "in": this server refused a hello;
 *                                     "out": the peer refused ours
 *  32 transport.frame_too_big   WARN  peer, bytes (announced), limit;
 *                                     the connection is closed
 *  33 transport.connect_failed  INFO  peer, address (str), reason (str:
 *                                     resolve, connect, timeout, closed,
 *                                     no_address), errno (i64), retry_ms
 *  34 transport.dropped         WARN  peer, reason (str: queue_full,
 *                                     no_address, disconnected, no_node),
 *                                     frames (dropped in that call);
 *                                     once per episode
 *  35 transport.address_changed INFO  peer, address (str, "" when none),
 *                                     source (str: membership, override,
 *                                     hello, none)
 *
 * Field value types: error and errno are i64, op, file and the fields
 * marked str are str, every other field is u64.
 * role is an enum craft_role; leader 0 means none; membership.changed's
 * index is the last log index when the change was seen (the
 * configuration entry is at or before it).
 */
enum craft_trace_id {
    CRAFT_TRACE_NODE_STARTED = 1,
    CRAFT_TRACE_NODE_STOPPED = 2,
    CRAFT_TRACE_ROLE_CHANGED = 3,
    CRAFT_TRACE_ELECTION_STARTED = 4,
    CRAFT_TRACE_LEADER_ELECTED = 5,
    CRAFT_TRACE_LEADER_LOST = 6,
    CRAFT_TRACE_TERM_CHANGED = 7,
    CRAFT_TRACE_MEMBERSHIP_CHANGED = 8,
    CRAFT_TRACE_SNAPSHOT_REQUESTED = 9,
    CRAFT_TRACE_SNAPSHOT_TAKEN = 10,
    CRAFT_TRACE_SNAPSHOT_INSTALLED = 11,
    CRAFT_TRACE_BACKPRESSURE_ON = 12,
    CRAFT_TRACE_BACKPRESSURE_OFF = 13,
    CRAFT_TRACE_SEND_DROPPED = 14,
    CRAFT_TRACE_MESSAGE_INVALID = 15,
    CRAFT_TRACE_STORAGE_FAILED = 16,
    CRAFT_TRACE_APPLY_FAILED = 17,
    CRAFT_TRACE_COMMIT_ADVANCED = 18,
    CRAFT_TRACE_STORAGE_OPENED = 19,
    CRAFT_TRACE_STORAGE_TAIL_TRUNCATED = 20,
    CRAFT_TRACE_STORAGE_CORRUPT = 21,
    CRAFT_TRACE_STORAGE_IO_FAILED = 22,
    CRAFT_TRACE_STORAGE_SEGMENT_CREATED = 23,
    CRAFT_TRACE_STORAGE_LOG_TRUNCATED = 24,
    CRAFT_TRACE_STORAGE_SNAPSHOT_SAVED = 25,
    CRAFT_TRACE_STORAGE_COMPACTED = 26,
    CRAFT_TRACE_TRANSPORT_LISTENING = 27,
    CRAFT_TRACE_TRANSPORT_CONNECTED = 28,
    CRAFT_TRACE_TRANSPORT_ACCEPTED = 29,
    CRAFT_TRACE_TRANSPORT_DISCONNECTED = 30,
    CRAFT_TRACE_TRANSPORT_REFUSED = 31,
    CRAFT_TRACE_TRANSPORT_FRAME_TOO_BIG = 32,
    CRAFT_TRACE_TRANSPORT_CONNECT_FAILED = 33,
    CRAFT_TRACE_TRANSPORT_DROPPED = 34,
    CRAFT_TRACE_TRANSPORT_ADDRESS_CHANGED = 35
};

/*
 * The name ("election.started") and target ("craft.engine") of trace
 * event id, NULL for an unknown id. Iterate from 1 until NULL to list
 * them all. Static strings; thread-safe.
 */
CRAFT_API const char *craft_trace_name(int id);
CRAFT_API const char *craft_trace_target(int id);

/*
 * Accessors of the event handed to the trace callback; the event and
 * every string it points to are borrowed for the callback's duration.
 * They return 0 / NULL on a NULL event.
 */
CRAFT_API int craft_trace_event_id(const craft_trace_event *ev);
CRAFT_API int craft_trace_event_level(const craft_trace_event *ev);
CRAFT_API const char *craft_trace_event_name(const craft_trace_event *ev);
CRAFT_API const char *craft_trace_event_target(const craft_trace_event *ev);
CRAFT_API size_t craft_trace_event_field_count(const craft_trace_event *ev);
/*
 * Field k (0-based): its key, type (enum craft_field_type) and value in
 * the matching out pointer (the others are left untouched). Any out
 * pointer may be NULL. CRAFT_EINVAL on NULL ev or k out of range.
 */
CRAFT_API int craft_trace_event_field(const craft_trace_event *ev, size_t k,
                                      const char **key, int *type,
                                      uint64_t *u64, int64_t *i64,
                                      const char **str);

/*
 * Since 1.1. A ready-made trace callback: set options.trace to it (and
 * trace_level to taste; trace_user is ignored). Each event becomes one
 * line on stderr, written with one call so lines of concurrent calls do
 * not mix:
 *
 *   2026-12-05T19:02:48.123456Z INFO  craft.engine leader.elected
 *       node_id=1 term=2 leader=1            (one line)
 *
 * UTC time, level, target, name, then every field as key=value (strings
 * quoted); a line longer than 1023 bytes is cut. Thread-safe. NULL ev is
 * ignored.
 */
CRAFT_API void craft_trace_stderr(void *user, const craft_trace_event *ev);

/* ---- options --------------------------------------------------------- */

/*
 * Node options. Fill with craft_node_options_init() or
 * CRAFT_NODE_OPTIONS_INIT, then set id, storage, transport and fsm. The
 * struct, the three tables and *engine / *allocator are copied by
 * craft_node_create(): none needs to outlive the call.
 *
 * trace, if set, is called for every event whose level is <= trace_level,
 * on the driver thread (or a guest running its round), the apply thread
 * or the thread calling create, bootstrap, start or shutdown; two calls
 * for one node may run at once.
 * ev is borrowed for the call.
 */
typedef struct craft_node_options {
    uint32_t struct_size;      /* sizeof(craft_node_options) */
    uint32_t tick_ms;          /* length of one engine tick; default 10.
                                  Ticks, leases (lease_reads, counted in
                                  ticks) and call deadlines are measured
                                  on CLOCK_BOOTTIME on Linux, which goes
                                  on counting while the system is
                                  suspended: a leader resumed from a
                                  suspend longer than its lease finds it
                                  expired and steps the overdue ticks
                                  before it answers any read. Elsewhere
                                  (no CLOCK_BOOTTIME) they are measured on
                                  CLOCK_MONOTONIC, which stops during a
                                  suspend: there a resumed leader may
                                  trust a lease that expired meanwhile,
                                  so enable lease_reads only on hosts
                                  that are never suspended. A VM frozen
                                  by its hypervisor is protected only if
                                  the guest's boot clock counts the
                                  frozen time. The default ReadIndex
                                  reads need no clock and stay
                                  linearizable (thesis §6.4). */
    uint64_t id;               /* this server's id, non-zero. Required. */
    const craft_storage_ops *storage;     /* required */
    const craft_transport_ops *transport; /* required */
    const craft_fsm_ops *fsm;             /* required */
    /* Engine options (election and heartbeat ticks, pre-vote, snapshot
     * policy, ...); NULL: the engine's defaults. Its id and allocator are
     * ignored: the node's are used. */
    const craft_engine_options *engine;
    const craft_allocator *allocator; /* NULL: malloc/realloc/free; used
                                         for every allocation of the node,
                                         its engine and threads' queues */
    void (*trace)(void *user, const craft_trace_event *ev); /* NULL: off */
    void *trace_user;
    int trace_level;               /* default CRAFT_TRACE_INFO */
    uint32_t request_timeout_ms;   /* deadline of calls given timeout 0;
                                      default 5000 */
    uint32_t apply_queue_entries;  /* backpressure bound; default 8192 */
    uint64_t apply_queue_bytes;    /* default 64 MiB */
    uint32_t peer_queue_messages;  /* per-peer send queue; default 1024 */
    uint64_t peer_queue_bytes;     /* default 64 MiB */
    uint32_t max_pending;          /* proposals accepted and not completed;
                                      default 65536 */
    uint64_t inbox_bytes;          /* received bytes not yet stepped;
                                      beyond it craft_node_receive drops;
                                      default 256 MiB */
    /* Since 1.1. 1: a proposal or a linearizable read made while this
     * node knows no leader (an election is going on) waits for one,
     * until its deadline, instead of failing at once with
     * CRAFT_ENOTLEADER: once this node leads, the call proceeds; once
     * another node is known to lead, a proposal fails with
     * CRAFT_ENOTLEADER and that node as the hint, and a read is served
     * through it; at the deadline the call fails with CRAFT_ETIMEDOUT.
     * A node that knows the leader and is not it still fails a proposal
     * at once. 0 (default): fail at once. */
    uint32_t wait_leader;
    /* Since 1.1. 1: craft_node_propose and craft_node_propose_wait,
     * called while max_pending proposals are pending, block the calling
     * thread until one completes or the call's deadline passes (then
     * they return CRAFT_ETIMEDOUT and the callback is never invoked)
     * instead of returning CRAFT_EBUSY at once. Called from one of the
     * node's own threads (a callback) they still return CRAFT_EBUSY at
     * once: blocking there could wait for itself. 0 (default): EBUSY at
     * once. */
    uint32_t wait_room;
    /* Since 1.1. 1 (default): when the driver thread is idle, a thread
     * that would otherwise wake it and wait runs the driver's round
     * itself: a thread blocked in craft_node_propose_wait or
     * craft_node_read_wait, a thread delivering bytes with
     * craft_node_receive_inline, and the apply thread after its
     * callbacks queued calls. The storage, transport and trace callbacks
     * then run on that thread (see "Threads" above). 0: only the driver
     * thread steps the engine, as in 1.0. */
    uint32_t inline_rounds;
    /* Since 1.1. Microseconds the apply thread (after completing a call)
     * and a thread blocked in craft_node_propose_wait or
     * craft_node_read_wait (one per node at a time, while few proposals
     * are pending) poll for their next work or result before they sleep,
     * saving a sleep and a wake-up when it comes soon. Bounded: never
     * spent when the node is idle or on a single CPU. 0: never poll.
     * Default 50. */
    uint32_t spin_us;
} craft_node_options;

#define CRAFT_NODE_OPTIONS_INIT                                               \
    { (uint32_t)sizeof(craft_node_options), 10u, 0u, NULL, NULL, NULL, NULL, \
      NULL, NULL, NULL, CRAFT_TRACE_INFO, 5000u, 8192u,                       \
      64u * 1024u * 1024u, 1024u, 64u * 1024u * 1024u, 65536u,                \
      256u * 1024u * 1024u, 0u, 0u, 1u, 50u }

/* Fills *o like CRAFT_NODE_OPTIONS_INIT. CRAFT_EINVAL on NULL. */
CRAFT_API int craft_node_options_init(craft_node_options *o);

/* ---- life cycle ------------------------------------------------------ */

/*
 * Creates a node and loads its persisted state (storage load, on the
 * calling thread). No thread is started yet.
 * Errors: CRAFT_EINVAL (NULL, id 0, a required method missing, a zero
 * tick or bound), CRAFT_ESTRUCT (a struct_size 0 or larger than this
 * library knows, in the options, a table, the engine options or the
 * allocator), CRAFT_ENOMEM, or the error load returned (CRAFT_ECALLBACK
 * when load returned a positive value). On error *out is untouched and
 * nothing was started.
 */
CRAFT_API int craft_node_create(const craft_node_options *opts,
                                craft_node **out);
/*
 * Since 1.1. craft_node_create() that also says what was wrong: on error
 * msg gets one line naming the field or step at fault ("options.tick_ms
 * is 0", "storage->append is NULL (required)", "storage->load returned
 * -5: ..."), NUL-terminated and truncated to cap bytes; on success "".
 * msg may be NULL (cap is then ignored); it is the caller's and only
 * written during the call, so any thread may call this with its own
 * buffer. Same errors and effects as craft_node_create().
 */
CRAFT_API int craft_node_create_msg(const craft_node_options *opts,
                                    craft_node **out, char *msg,
                                    size_t cap);

/*
 * Founds a new cluster whose voters are ids (which must include this
 * node), on a node whose storage was empty; writes the first
 * configuration through the storage callbacks on the calling thread.
 * Only between create and start: CRAFT_ESTATE after start or when the
 * node loaded any state (a restart: just start it), CRAFT_ESHUTDOWN after
 * shutdown, CRAFT_EINVAL (NULL, n 0, duplicate or zero id, self missing),
 * CRAFT_ETOOBIG (n > CRAFT_MAX_MEMBERS), CRAFT_EIO (storage failed).
 * A node that is not bootstrapped waits to be added by a leader.
 * Not thread-safe: call it from the thread that created the node.
 */
CRAFT_API int craft_node_bootstrap(craft_node *node, const uint64_t *ids,
                                   size_t n);

/*
 * Like craft_node_bootstrap, and addrs[k] (n entries, parallel to ids) is
 * the address of server ids[k]: opaque bytes of at most
 * CRAFT_MAX_ADDR_BYTES (e.g. "10.0.0.5:7001"; length 0: no address),
 * copied, stored in the first configuration where every server's
 * transport can read them (craft_node_membership). craft_node_bootstrap
 * is this call without addresses. Errors as craft_node_bootstrap, and
 * CRAFT_EINVAL (addrs NULL, an entry with a NULL base and a non-zero
 * length), CRAFT_ETOOBIG (an entry longer than CRAFT_MAX_ADDR_BYTES).
 */
CRAFT_API int craft_node_bootstrap_addr(craft_node *node, const uint64_t *ids,
                                        const craft_buf *addrs, size_t n);

/*
 * Restores the state machine from the loaded snapshot if any (fsm
 * restore, on the calling thread), then starts the driver and apply
 * threads. CRAFT_EINVAL (NULL), CRAFT_ESTATE (already started),
 * CRAFT_ESHUTDOWN, CRAFT_EIO / CRAFT_ECALLBACK (the restore failed),
 * CRAFT_ENOMEM or CRAFT_EIO when a thread cannot be started. On error no
 * thread runs. Not thread-safe: call it from the thread that created the
 * node.
 */
CRAFT_API int craft_node_start(craft_node *node);

/*
 * Stops the node: new calls fail with CRAFT_ESHUTDOWN; the driver makes
 * its writes durable and stops; every call still pending (queued
 * proposals, proposals not yet committed, reads, membership and transfer
 * requests, snapshot triggers) completes with CRAFT_ESHUTDOWN; committed
 * entries already handed to the apply thread are applied and their
 * proposals complete normally; then both threads are joined. Blocks until
 * done. A second call, or a call on a node never started, only marks it
 * shut down and returns CRAFT_OK. CRAFT_EINVAL on NULL, CRAFT_ESTATE from
 * a node's own callback.
 */
CRAFT_API int craft_node_shutdown(craft_node *node);

/*
 * Shuts the node down if needed, then frees it and everything it owns.
 * The storage and transport it used are the caller's and stay alive.
 * NULL is harmless. No call on the node may be running or made after.
 */
CRAFT_API void craft_node_free(craft_node *node);

/* ---- network --------------------------------------------------------- */

/*
 * Hands bytes a peer sent (its transport's send) to the node; they are
 * copied, and stepped by the driver in arrival order. Any thread, also
 * before start (they wait for the driver). Errors: CRAFT_EINVAL (NULL,
 * len 0), CRAFT_ETOOBIG (len > CRAFT_MAX_MESSAGE_BYTES), CRAFT_EBUSY (the
 * inbox is full: the bytes were dropped), CRAFT_ESHUTDOWN, CRAFT_ENOMEM.
 * Bytes that do not decode are counted and dropped by the driver; they
 * never hurt the node.
 */
CRAFT_API int craft_node_receive(craft_node *node, const void *data,
                                 size_t len);

/*
 * Like craft_node_receive, for in-process transports and others that can
 * afford it: when the node's driver is idle (and its inline_rounds option
 * is on), the bytes, and whatever else the node has queued, are stepped
 * at once on the calling thread instead of waking the driver thread. The
 * node's storage, transport and trace callbacks then run on this thread
 * (never two rounds of one node at a time), so the caller must hold no
 * lock those callbacks take, and the call lasts as long as a round (a
 * storage sync included). When the driver is busy the bytes are queued as
 * with craft_node_receive. craft_hub delivers with it. Errors as
 * craft_node_receive. Since 1.1.
 */
CRAFT_API int craft_node_receive_inline(craft_node *node, const void *data,
                                        size_t len);

/* ---- calls ----------------------------------------------------------- */

/*
 * The completion callback of an asynchronous call. res and everything it
 * points to are borrowed for the call. It runs on the apply thread (see
 * the top of this file for the exceptions at shutdown).
 */
typedef void (*craft_node_cb)(void *ctx, const craft_result *res);

/*
 * Proposes one entry (data copied; len may be 0, at most
 * CRAFT_MAX_ENTRY_BYTES). cb may be NULL (fire and forget). cb gets:
 *  CRAFT_OK        the entry was committed at (index, term) and applied;
 *                  craft_result_data() is what the fsm apply returned.
 *  CRAFT_ECALLBACK committed and applied, but fsm apply returned an error.
 *  CRAFT_ENOTLEADER this node is not the leader: craft_result_leader()
 *                  is the hint (CRAFT_NONE when unknown).
 *  CRAFT_ELOST     the entry was overwritten by a new leader's (a
 *                  different term at its index): it will never commit.
 *  CRAFT_EBUSY     a leadership transfer is in progress: retry.
 *  CRAFT_ESTEPPEDDOWN / CRAFT_ETIMEDOUT  leadership was lost / the
 *                  deadline passed before it committed; the outcome is
 *                  unknown.
 *  CRAFT_ESHUTDOWN, CRAFT_EIO, CRAFT_ENOMEM.
 * Results are matched to proposals by (index, term): consecutive
 * proposals are batched into one append.
 * Errors of the call (cb not invoked): CRAFT_EINVAL (NULL node, NULL data
 * with len > 0), CRAFT_ETOOBIG, CRAFT_EBUSY (max_pending reached; with
 * the wait_room option the call waits for room instead, and fails with
 * CRAFT_ETIMEDOUT when its deadline passes first), CRAFT_ESHUTDOWN,
 * CRAFT_EIO (the node failed), CRAFT_ENOMEM.
 * With the wait_leader option, a proposal made while no leader is known
 * waits for one (see craft_node_options).
 */
CRAFT_API int craft_node_propose(craft_node *node, const void *data,
                                 size_t len, uint32_t timeout_ms,
                                 craft_node_cb cb, void *ctx);

/*
 * Like craft_node_propose, but blocks until the proposal completes and
 * returns its status (CRAFT_OK or one of the errors above). When out is
 * not NULL and the proposal was accepted, *out receives its result (free
 * it with craft_result_free); otherwise *out is set to NULL.
 * CRAFT_ESTATE from the node's own threads. With the wait_room option it
 * waits for room (up to the deadline) instead of returning CRAFT_EBUSY. Returns at the latest shortly
 * after the deadline, unless the apply thread is stuck in a callback.
 */
CRAFT_API int craft_node_propose_wait(craft_node *node, const void *data,
                                      size_t len, uint32_t timeout_ms,
                                      craft_result **out);

/*
 * A linearizable read (thesis §6.4). The leader confirms it still leads
 * and learns the read index (a follower asks the leader for it); once
 * this node's state machine has applied that index, cb runs on its apply
 * thread, in FIFO order with the applies, with status CRAFT_OK: inside cb
 * the state machine can be read and reflects every write that completed
 * before this call (craft_result_index: the read index). Otherwise cb gets
 * CRAFT_ENOTLEADER (no leader known, or the one asked is not: leader
 * hint), CRAFT_ESTEPPEDDOWN, CRAFT_ETIMEDOUT, CRAFT_ESHUTDOWN or CRAFT_EIO
 * (CRAFT_ENOTREADY, a leader that has not committed in its term yet, is
 * retried by the node every tick until the deadline; with the
 * wait_leader option so is CRAFT_ENOTLEADER without a known leader).
 * Errors of the call: CRAFT_EINVAL (NULL node or cb), CRAFT_ESHUTDOWN,
 * CRAFT_EIO, CRAFT_ENOMEM.
 */
CRAFT_API int craft_node_read_linearizable(craft_node *node,
                                           uint32_t timeout_ms,
                                           craft_node_cb cb, void *ctx);

/*
 * The function craft_node_read_wait runs: on the apply thread, in FIFO
 * order with the applies, once this node applied the read index (index).
 * Inside it the state machine can be read like in a
 * craft_node_read_linearizable callback. Return CRAFT_OK, or any other
 * value to have craft_node_read_wait return CRAFT_ECALLBACK (keep the
 * details in ctx).
 */
typedef int (*craft_node_read_fn)(void *ctx, uint64_t index);

/*
 * A blocking linearizable read: like craft_node_read_linearizable, but
 * the calling thread waits until fn ran (on the apply thread, after the
 * ReadIndex round, FIFO with the applies) and gets its status:
 *  CRAFT_OK         fn ran and returned CRAFT_OK (fn NULL: this node
 *                   applied the read index; the caller may then read a
 *                   state machine that has its own lock, and sees every
 *                   write completed before the call);
 *  CRAFT_ECALLBACK  fn ran and returned something else;
 *  the read's errors (fn not run): CRAFT_ENOTLEADER, CRAFT_ESTEPPEDDOWN,
 *                   CRAFT_ETIMEDOUT, CRAFT_ESHUTDOWN, CRAFT_EIO;
 *  the call's errors: CRAFT_EINVAL (NULL node), CRAFT_ESTATE (from the
 *                   node's own threads), CRAFT_ESHUTDOWN, CRAFT_EIO,
 *                   CRAFT_ENOMEM.
 * ctx is passed to fn untouched. Any thread but the node's own. Returns
 * at the latest shortly after the deadline, unless the apply thread is
 * stuck in a callback. Since 1.1.
 */
CRAFT_API int craft_node_read_wait(craft_node *node, uint32_t timeout_ms,
                                   craft_node_read_fn fn, void *ctx);

/*
 * Membership changes, one server at a time (thesis §4.1), on the leader.
 *  add_peer:        add peer as a learner, then promote it to voter once
 *                   it caught up (thesis §4.2.1); cb once it is a voter.
 *  add_learner:     add peer as a non-voting learner.
 *  promote_learner: make learner peer a voter once caught up.
 *  remove_peer:     remove a voter or learner (may be this node).
 * cb gets CRAFT_OK once the configuration entry is committed and applied
 * here (craft_result_index/term: its receipt; for add_peer the
 * promotion's), or CRAFT_ENOTLEADER (+ leader hint), CRAFT_EBUSY (another
 * change or a transfer is in progress: retry), CRAFT_EUNKNOWNPEER,
 * CRAFT_EEXIST (already a member; promote: already a voter), CRAFT_EINVAL
 * (removing the last voter), CRAFT_ETIMEDOUT (the deadline, or the
 * learner did not catch up), CRAFT_ESTEPPEDDOWN (leadership lost before
 * the entry committed: outcome unknown), CRAFT_ELOST, CRAFT_ESHUTDOWN,
 * CRAFT_EIO. A leader that has not committed in its term yet answers
 * CRAFT_ENOTREADY: the node asks again every tick until the deadline.
 * cb may be NULL. Errors of the call: CRAFT_EINVAL (NULL node, peer 0),
 * CRAFT_ESHUTDOWN, CRAFT_EIO, CRAFT_ENOMEM.
 */
CRAFT_API int craft_node_add_peer(craft_node *node, uint64_t peer,
                                  uint32_t timeout_ms, craft_node_cb cb,
                                  void *ctx);
CRAFT_API int craft_node_add_learner(craft_node *node, uint64_t peer,
                                     uint32_t timeout_ms, craft_node_cb cb,
                                     void *ctx);
CRAFT_API int craft_node_promote_learner(craft_node *node, uint64_t peer,
                                         uint32_t timeout_ms,
                                         craft_node_cb cb, void *ctx);
CRAFT_API int craft_node_remove_peer(craft_node *node, uint64_t peer,
                                     uint32_t timeout_ms, craft_node_cb cb,
                                     void *ctx);

/*
 * add_peer_addr, add_learner_addr: add_peer and add_learner with the new
 * server's address, stored with it in the membership (addr_len bytes,
 * copied; opaque to craft, at most CRAFT_MAX_ADDR_BYTES, e.g.
 * "10.0.0.5:7001" or "[::1]:7001") so that every server's transport can
 * reach it. add_peer and add_learner add a server without an address. A
 * member keeps its address until removed. Results as above; extra errors
 * of the call: CRAFT_ETOOBIG (addr_len > CRAFT_MAX_ADDR_BYTES),
 * CRAFT_EINVAL (addr NULL with addr_len > 0).
 */
CRAFT_API int craft_node_add_peer_addr(craft_node *node, uint64_t peer,
                                       const void *addr, size_t addr_len,
                                       uint32_t timeout_ms, craft_node_cb cb,
                                       void *ctx);
CRAFT_API int craft_node_add_learner_addr(craft_node *node, uint64_t peer,
                                          const void *addr, size_t addr_len,
                                          uint32_t timeout_ms,
                                          craft_node_cb cb, void *ctx);

/*
 * Hands leadership to voter peer (thesis §3.10). cb gets CRAFT_OK when
 * peer took over (craft_result_leader() == peer), CRAFT_ETIMEDOUT when it
 * did not within an election timeout or the deadline, CRAFT_ENOTLEADER,
 * CRAFT_EUNKNOWNPEER, CRAFT_EBUSY, CRAFT_ESTEPPEDDOWN, CRAFT_ESHUTDOWN.
 * Errors of the call as for add_peer.
 */
CRAFT_API int craft_node_transfer_leadership(craft_node *node, uint64_t peer,
                                             uint32_t timeout_ms,
                                             craft_node_cb cb, void *ctx);

/*
 * Takes a snapshot now (at the last entry handed to the apply thread) and
 * compacts the log. cb gets CRAFT_OK with the snapshot's index and term,
 * CRAFT_ESTATE (the state machine has no snapshot method, or nothing was
 * applied since the last snapshot), CRAFT_ECALLBACK (the fsm snapshot
 * failed), CRAFT_EIO, CRAFT_ETIMEDOUT, CRAFT_ESHUTDOWN. cb may be NULL.
 * Errors of the call: CRAFT_EINVAL (NULL node), CRAFT_ESHUTDOWN, CRAFT_EIO,
 * CRAFT_ENOMEM.
 */
CRAFT_API int craft_node_trigger_snapshot(craft_node *node,
                                          uint32_t timeout_ms,
                                          craft_node_cb cb, void *ctx);

/* ---- results --------------------------------------------------------- */

/*
 * Accessors of a result. status: CRAFT_OK or the error. index, term: the
 * receipt (proposal, configuration entry, snapshot) or the read index.
 * leader: the known leader when the result was made (the hint with
 * CRAFT_ENOTLEADER; CRAFT_NONE when unknown). data: the apply result of a
 * proposal (borrowed like the result; NULL/0 when none). 0 / NULL / EINVAL
 * on a NULL result.
 */
CRAFT_API int craft_result_status(const craft_result *res);
CRAFT_API uint64_t craft_result_index(const craft_result *res);
CRAFT_API uint64_t craft_result_term(const craft_result *res);
CRAFT_API uint64_t craft_result_leader(const craft_result *res);
CRAFT_API int craft_result_data(const craft_result *res, const void **data,
                                size_t *len);
/* Frees a result from craft_node_propose_wait. NULL is harmless. Never
 * free the borrowed result of a callback. */
CRAFT_API void craft_result_free(craft_result *res);

/* ---- state and status ------------------------------------------------ */

/*
 * Cheap reads of the node's latest known state (no wait for the driver;
 * any thread, also after shutdown). 0 on NULL.
 * role: enum craft_role. applied_index: the last entry the apply thread
 * finished applying.
 */
CRAFT_API uint64_t craft_node_id(const craft_node *node);
CRAFT_API int craft_node_role(const craft_node *node);
CRAFT_API uint64_t craft_node_term(const craft_node *node);
CRAFT_API uint64_t craft_node_leader(const craft_node *node);
CRAFT_API uint64_t craft_node_applied_index(const craft_node *node);

/*
 * A consistent copy of the node's state, made by the driver between two
 * steps (the call waits for it; after shutdown it is made from the
 * stopped engine). Free it with craft_status_free(). CRAFT_EINVAL
 * (NULL), CRAFT_ESTATE (from the node's own callbacks), CRAFT_ENOMEM.
 */
CRAFT_API int craft_node_status(craft_node *node, craft_status **out);
CRAFT_API void craft_status_free(craft_status *st);
/* Fields of a status; 0 on NULL. role: enum craft_role. */
CRAFT_API uint64_t craft_status_id(const craft_status *st);
CRAFT_API int craft_status_role(const craft_status *st);
CRAFT_API uint64_t craft_status_term(const craft_status *st);
CRAFT_API uint64_t craft_status_leader(const craft_status *st);
CRAFT_API uint64_t craft_status_commit_index(const craft_status *st);
CRAFT_API uint64_t craft_status_applied_index(const craft_status *st);
CRAFT_API uint64_t craft_status_last_index(const craft_status *st);
CRAFT_API uint64_t craft_status_snapshot_index(const craft_status *st);
CRAFT_API size_t craft_status_member_count(const craft_status *st);
/*
 * Member k (0-based): its id, role (CRAFT_VOTER / CRAFT_LEARNER) and,
 * when the node is the leader, its replication progress (match index,
 * next index, enum craft_progress_state_public; 0 otherwise). Any out
 * pointer may be NULL. CRAFT_EINVAL when st is NULL or k out of range.
 */
CRAFT_API int craft_status_member(const craft_status *st, size_t k,
                                  uint64_t *id, int *role, uint64_t *match,
                                  uint64_t *next, int *progress_state);

/*
 * The address of member k (see craft_node_add_peer_addr): *addr points
 * into st (valid until craft_status_free) and *len is its length; a
 * member without an address gives NULL and 0. CRAFT_EINVAL when st, addr
 * or len is NULL or k is out of range.
 */
CRAFT_API int craft_status_member_addr(const craft_status *st, size_t k,
                                       const void **addr, size_t *len);

/*
 * The node's current membership (its latest configuration, thesis §4.1)
 * without waiting for the driver: the driver publishes a copy whenever
 * the membership changes (a server added, removed or promoted, another
 * address) and these read it. Meant for transports that follow the
 * membership (craft_tcp) and for routing clients. Any thread, also from
 * the node's own callbacks, before start and after shutdown.
 *
 * craft_node_membership_version: a number that grows with every
 * published change; 0 while the node has no membership (a server waiting
 * to be added). An atomic read, cheap enough to poll. 0 on NULL.
 *
 * craft_node_membership: the published copy as a status (free it with
 * craft_status_free) whose member accessors are set (count, id, role,
 * address; progress fields 0); its id, role, term, leader and applied
 * index are the quick reads above; commit, last and snapshot indexes are
 * 0. *version (when not NULL) gets the version of this copy.
 * CRAFT_EINVAL (NULL node or out), CRAFT_ENOMEM.
 */
CRAFT_API uint64_t craft_node_membership_version(const craft_node *node);
CRAFT_API int craft_node_membership(craft_node *node, craft_status **out,
                                    uint64_t *version);

/* ---- metrics --------------------------------------------------------- */

/*
 * Metrics. Ids are stable and only appended; iterate from 1 while
 * craft_metric_name() is not NULL. Counters only grow; gauges are the
 * latest value.
 */
enum craft_metric {
    CRAFT_METRIC_ELECTIONS = 1,        /* counter: campaigns started */
    CRAFT_METRIC_LEADER_CHANGES = 2,   /* counter: new leader seen */
    CRAFT_METRIC_PROPOSALS = 3,        /* counter: proposals accepted */
    CRAFT_METRIC_PROPOSALS_FAILED = 4, /* counter: completed with error */
    CRAFT_METRIC_COMMITS = 5,          /* counter: entries committed */
    CRAFT_METRIC_APPLIES = 6,          /* counter: entries applied */
    CRAFT_METRIC_APPLY_LAG = 7,        /* gauge: commit - applied index */
    CRAFT_METRIC_APPLY_QUEUE = 8,      /* gauge: entries in apply queue */
    CRAFT_METRIC_BYTES_SENT = 9,       /* counter */
    CRAFT_METRIC_MESSAGES_SENT = 10,   /* counter */
    CRAFT_METRIC_MESSAGES_DROPPED = 11, /* counter: full queue or error */
    CRAFT_METRIC_BYTES_RECEIVED = 12,  /* counter */
    CRAFT_METRIC_MESSAGES_RECEIVED = 13, /* counter */
    CRAFT_METRIC_MESSAGES_INVALID = 14, /* counter: did not decode */
    CRAFT_METRIC_SYNCS = 15,           /* counter: storage syncs */
    CRAFT_METRIC_ENTRIES_WRITTEN = 16, /* counter: storage appends */
    CRAFT_METRIC_ENGINE_STEPS = 17,    /* counter: events stepped */
    CRAFT_METRIC_READS = 18,           /* counter: reads completed OK */
    CRAFT_METRIC_READS_FAILED = 19,    /* counter */
    CRAFT_METRIC_SNAPSHOTS_TAKEN = 20, /* counter */
    CRAFT_METRIC_SNAPSHOTS_INSTALLED = 21, /* counter */
    CRAFT_METRIC_TERM = 22,            /* gauge */
    CRAFT_METRIC_COMMIT_INDEX = 23,    /* gauge */
    CRAFT_METRIC_APPLIED_INDEX = 24,   /* gauge */
    CRAFT_METRIC_IS_LEADER = 25,       /* gauge: 1 when leader */
    CRAFT_METRIC_BACKPRESSURE = 26,    /* counter: episodes of a full
                                          apply queue */
    CRAFT_METRIC_APPLY_QUEUE_MAX = 27  /* gauge: highest apply queue
                                          depth seen (entries) */
};

/* Prometheus name ("craft_elections_total"), NULL for an unknown id. */
CRAFT_API const char *craft_metric_name(int id);
/* One-line description, NULL for an unknown id. */
CRAFT_API const char *craft_metric_help(int id);
/* 1 for a counter, 2 for a gauge, 0 for an unknown id. */
CRAFT_API int craft_metric_kind(int id);

/* The current value of metric id. CRAFT_EINVAL on NULL or unknown id. */
CRAFT_API int craft_node_metric(const craft_node *node, int id,
                                uint64_t *value);

/*
 * Renders every metric in the Prometheus text exposition format (0.0.4),
 * each sample labelled node="<id>", into buf (NUL-terminated). *len gets
 * the length of the full text (without the NUL). CRAFT_ETOOBIG when cap
 * is too small (call again with *len + 1 bytes); buf may then be NULL
 * with cap 0. CRAFT_EINVAL on NULL node or len.
 */
CRAFT_API int craft_node_metrics_text(const craft_node *node, char *buf,
                                      size_t cap, size_t *len);

/*
 * Copies the node's last detailed error message ("storage append failed
 * at index 42: CRAFT_EIO ...") into buf (NUL-terminated, truncated to
 * cap) and returns its full length; "" when none. 0 on NULL node.
 */
CRAFT_API size_t craft_node_errmsg(const craft_node *node, char *buf,
                                   size_t cap);

CRAFT_END_DECLS

#endif /* CRAFT_NODE_H */
