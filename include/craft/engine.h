/*
 * craft/engine.h: the pure Raft engine.
 *
 * An engine is a deterministic state machine: craft_engine_step() takes one
 * event and appends the ordered list of actions the host must carry out.
 * It does no I/O, reads no clock, starts no thread and keeps no global
 * state; randomness comes from the seed in its options, so the same events
 * give the same actions, byte for byte.
 *
 * The host's contract (Raft Figure 2, "respond to RPCs only after updating
 * stable storage"):
 *
 *  - Carry out actions in list order.
 *  - Storage actions (PERSIST_HARD_STATE, APPEND, TRUNCATE) must be durable
 *    before any SEND that follows them in the same list is carried out.
 *    The engine orders its output so that this never delays a send that
 *    does not depend on the write: a leader's own APPEND comes after the
 *    SENDs replicating the same entries (thesis §10.2.1), so its disk write
 *    runs in parallel with replication.
 *  - After an APPEND is durable, report it with a CRAFT_EVENT_PERSISTED
 *    event (the index and term of the last durable entry). A leader counts
 *    itself toward a commit quorum only for entries reported durable.
 *  - APPLY hands over committed entries, in log order, exactly once.
 *
 * Thread-safety: an engine and the actions list passed to it must be used
 * by one thread at a time. Distinct engines are independent.
 */
#ifndef CRAFT_ENGINE_H
#define CRAFT_ENGINE_H

#include "common.h"

CRAFT_BEGIN_DECLS

typedef struct craft_engine craft_engine;
typedef struct craft_actions craft_actions;

/* Raft roles. */
enum craft_role {
    CRAFT_ROLE_FOLLOWER = 1,
    CRAFT_ROLE_PRE_CANDIDATE = 2, /* running a pre-vote (thesis §9.6) */
    CRAFT_ROLE_CANDIDATE = 3,
    CRAFT_ROLE_LEADER = 4
};

/* Log entry types. The payload of NORMAL entries is the user's; NOOP is
 * the empty entry a new leader appends (§5.4.2); CONFIG carries a
 * membership the engine encodes itself (opaque to the host). */
enum craft_entry_type {
    CRAFT_ENTRY_NORMAL = 1,
    CRAFT_ENTRY_NOOP = 2,
    CRAFT_ENTRY_CONFIG = 3
};

/* Limits enforced on every input. */
#define CRAFT_MAX_ENTRY_BYTES (64u * 1024u * 1024u) /* one payload */
#define CRAFT_MAX_MESSAGE_BYTES (256u * 1024u * 1024u) /* one message */
#define CRAFT_MAX_PROPOSALS 65536u /* payloads in one PROPOSE event */
#define CRAFT_MAX_MEMBERS 64u      /* servers in one membership */
#define CRAFT_MAX_ADDR_BYTES 255u  /* a member's address (opaque bytes) */
/* The largest index a snapshot may have (2^63 - 1). A log grows one entry
 * at a time past its snapshot, so no index comes near wrapping around. */
#define CRAFT_MAX_INDEX ((uint64_t)INT64_MAX)

/*
 * Engine options. Fill with craft_engine_options_init() or
 * CRAFT_ENGINE_OPTIONS_INIT, then set id (required) and what you need.
 * Durations are in ticks: the host decides how long a tick is.
 */
typedef struct craft_engine_options {
    uint32_t struct_size;   /* sizeof(craft_engine_options) */
    uint32_t election_ticks; /* base election timeout; the actual one is
                                random in [e, 2e). Default 10. */
    uint64_t id;            /* this server's id, non-zero. Required. */
    uint64_t seed;          /* PRNG seed; default 0 uses id */
    uint32_t heartbeat_ticks; /* leader heartbeat period; default 1;
                                 must be < election_ticks */
    uint32_t max_inflight;  /* append messages in flight per peer; 256 */
    uint32_t max_msg_bytes; /* payload bytes per append message; 1 MiB.
                               A single larger entry is still sent alone. */
    int pre_vote;           /* thesis §9.6; default 1 */
    int check_quorum;       /* leader steps down without a live quorum;
                               default 1 */
    const craft_allocator *allocator; /* NULL: malloc/realloc/free */
    /* Snapshots. The engine asks for one (TAKE_SNAPSHOT) when this many
     * entries, or this many payload bytes, were applied since the last
     * one; 0 disables that trigger. Defaults 8192 entries, 64 MiB. */
    uint64_t snapshot_entries;
    uint64_t snapshot_bytes;
    uint64_t snapshot_trailing;   /* entries kept after compaction; 128 */
    uint32_t snapshot_chunk_bytes; /* bytes per snapshot chunk; 256 KiB */
    int lease_reads;      /* serve reads from a leader lease (thesis
                             §6.4.1) instead of a ReadIndex round; needs
                             check_quorum; default 0 */
    uint32_t catchup_rounds; /* a learner is promoted once a replication
                                round takes less than an election timeout,
                                within this many rounds (thesis §4.2.1);
                                default 10 */
    /* Since 1.1. 1: the engine answers a receipt again when its entries
     * are lost: a PROPOSE_RESULT with CRAFT_ELOST (or CRAFT_ESTEPPEDDOWN
     * when the outcome is unknown), see the actions table below. It keeps
     * the receipts it gave until they commit (memory: a few words per
     * uncommitted batch). 0 (default): receipts are answered once, as in
     * 1.0; the host compares terms itself. craft_node sets it to 0 (it
     * reports lost proposals as CRAFT_ELOST on its own). */
    int lost_receipts;
} craft_engine_options;

#define CRAFT_ENGINE_OPTIONS_INIT                                             \
    { (uint32_t)sizeof(craft_engine_options), 10u, 0u, 0u, 1u, 256u,         \
      1024u * 1024u, 1, 1, NULL, 8192u, 64u * 1024u * 1024u, 128u,           \
      256u * 1024u, 0, 10u, 0 }

/* Fills *o like CRAFT_ENGINE_OPTIONS_INIT. CRAFT_EINVAL on NULL. */
CRAFT_API int craft_engine_options_init(craft_engine_options *o);

/*
 * Creates an engine. *opts is copied (as is *opts->allocator).
 * Errors: CRAFT_EINVAL (NULL, id 0, heartbeat >= election timeout, a zero
 * limit), CRAFT_ESTRUCT (struct_size 0 or larger than this library
 * knows), CRAFT_ENOMEM. On error *out is untouched.
 * A new engine is empty: term 0, no log, no membership. Load persisted
 * state with craft_engine_load_*() or start a new cluster with a
 * CRAFT_EVENT_BOOTSTRAP event. An engine with no membership never
 * campaigns: it waits for a leader to contact it.
 */
CRAFT_API int craft_engine_create(const craft_engine_options *opts,
                                  craft_engine **out);

/* Frees the engine and everything it owns. NULL is harmless. Any actions
 * list filled by this engine must not be read afterwards. */
CRAFT_API void craft_engine_free(craft_engine *e);

/*
 * Restart from persisted state. Call these after create and before the
 * first craft_engine_step(); later they return CRAFT_ESTATE.
 *
 * load_hard_state: the last PERSIST_HARD_STATE the host made durable.
 * load_snapshot: the metadata of the last snapshot made durable: its last
 *   index and term and the membership bytes the engine gave with it
 *   (opaque to the host). Call before load_entry.
 * load_entry: one durable log entry; call in index order. The first one
 *   follows the snapshot (index = snapshot index + 1) or is index 1.
 *   data is copied.
 * Errors: CRAFT_EINVAL (NULL, non-contiguous index, a snapshot index above
 * CRAFT_MAX_INDEX, term going down or above the hard state term),
 * CRAFT_EMALFORMED (bad membership bytes),
 * CRAFT_ETOOBIG, CRAFT_ESTATE, CRAFT_ENOMEM. On error nothing changed.
 */
CRAFT_API int craft_engine_load_hard_state(craft_engine *e, uint64_t term,
                                           uint64_t vote);
CRAFT_API int craft_engine_load_snapshot(craft_engine *e, uint64_t index,
                                         uint64_t term, const void *conf,
                                         size_t conf_len);
CRAFT_API int craft_engine_load_entry(craft_engine *e, uint64_t index,
                                      uint64_t term, uint32_t type,
                                      const void *data, size_t len);

/*
 * Events. Fill with craft_event_init() or CRAFT_EVENT_INIT, set type and
 * the fields the type uses (others are ignored):
 *
 *  TICK       -                  one unit of logical time passed
 *  MESSAGE    data, len          bytes a peer sent (craft_action_message);
 *                                borrowed for the call
 *  PROPOSE    bufs, nbufs, id    user payloads, appended as one batch of
 *                                consecutive entries; copied. id is echoed
 *                                in the PROPOSE_RESULT action.
 *  PERSISTED  index, term        entries up to index (whose term is term)
 *                                are durable
 *  BOOTSTRAP  ids, nids          start a new cluster whose voters are ids
 *                                (must include this server); only on an
 *                                empty engine. With CRAFT_EVENT_F_ADDR,
 *                                bufs/nbufs (nbufs == nids) are their
 *                                addresses, parallel to ids (copied)
 *  READ       id                 a linearizable read (thesis §6.4); answered
 *                                by a READ_RESULT action with the same id
 *  TRANSFER   id, peer           hand leadership to peer (thesis §3.10);
 *                                answered by TRANSFER_RESULT
 *  ADD_PEER   id, peer           add peer as a learner and promote it to
 *                                voter once caught up (thesis §4.2.1).
 *                                With CRAFT_EVENT_F_ADDR, data/len is
 *                                its address (copied)
 *  ADD_LEARNER id, peer          add peer as a learner only (address as
 *                                for ADD_PEER)
 *  PROMOTE    id, peer           promote a learner once caught up
 *  REMOVE     id, peer           remove a voter or learner (may be self)
 *             Membership events are answered by PROPOSE_RESULT with the
 *             event's id: the receipt of the configuration entry, or the
 *             error. ADD_LEARNER and REMOVE answer once. PROMOTE answers
 *             once, when the learner caught up (the promotion entry's
 *             receipt) or did not (CRAFT_ETIMEDOUT). ADD_PEER answers
 *             twice: for the learner entry, then as PROMOTE does.
 *  SNAPSHOT_TAKEN index, term    the host made a snapshot of its state
 *                                machine at applied index (its entry's
 *                                term) durable; the log is compacted.
 *                                The snapshot is stored with the
 *                                membership bytes in force at index:
 *                                read them with craft_engine_conf_at(e,
 *                                index, ...) BEFORE stepping this event
 *                                (the snapshot must be durable, bytes
 *                                included, by then; the entries they come
 *                                from may be compacted away by the step)
 *                                and hand them back on restart through
 *                                craft_engine_load_snapshot()
 *  SNAPSHOT_CHUNK peer, index, offset, data, len, flags
 *                                answers a SNAPSHOT_READ: the bytes at
 *                                offset of the snapshot at index; set
 *                                CRAFT_EVENT_F_LAST on the final chunk, or
 *                                CRAFT_EVENT_F_FAILED if it cannot be read
 *                                (the engine restarts with its newest
 *                                snapshot). data is copied.
 *
 * Addresses: each member of a configuration carries an address, opaque
 * bytes of at most CRAFT_MAX_ADDR_BYTES (e.g. "10.0.0.5:7001") that the
 * engine stores in the configuration entry and the snapshot's membership
 * and never interprets; a transport reads them to reach the member. An
 * empty address (NULL/0, the default) means the host knows the way
 * otherwise. A member keeps its address until it is removed. Addresses
 * are given with the flag CRAFT_EVENT_F_ADDR (new in 1.1; without it the
 * fields keep their 1.0 meaning, so an older caller adds members without
 * an address). An address longer than CRAFT_MAX_ADDR_BYTES is
 * CRAFT_ETOOBIG; NULL with a non-zero length, or a BOOTSTRAP whose nbufs
 * is not nids, is CRAFT_EINVAL.
 *
 * Coalesced durability reports (new in 1.1): an event that uses neither
 * index nor term (TICK, MESSAGE, PROPOSE, READ, TRANSFER, ADD_PEER,
 * ADD_LEARNER, PROMOTE, REMOVE) may carry a PERSISTED report in them with
 * the flag CRAFT_EVENT_F_PERSISTED. The step then does what a PERSISTED
 * event (index, term) stepped just before it would have done, and both
 * outputs come in its one actions list. A host saves a step per report
 * this way: e.g. it reports a write durable with the next message it
 * hands to the engine. Reporting late is always safe; only commits that
 * wait for the report wait longer (a leader counts itself toward a quorum
 * once its entries are reported durable). The flag with any other event
 * type is CRAFT_EINVAL. When the step fails, the report was not taken
 * either (the engine is unchanged): report it again.
 */
enum craft_event_type {
    CRAFT_EVENT_TICK = 1,
    CRAFT_EVENT_MESSAGE = 2,
    CRAFT_EVENT_PROPOSE = 3,
    CRAFT_EVENT_PERSISTED = 4,
    CRAFT_EVENT_BOOTSTRAP = 5,
    CRAFT_EVENT_READ = 6,
    CRAFT_EVENT_TRANSFER = 7,
    CRAFT_EVENT_ADD_PEER = 8,
    CRAFT_EVENT_ADD_LEARNER = 9,
    CRAFT_EVENT_PROMOTE = 10,
    CRAFT_EVENT_REMOVE = 11,
    CRAFT_EVENT_SNAPSHOT_TAKEN = 12,
    CRAFT_EVENT_SNAPSHOT_CHUNK = 13
};

#define CRAFT_EVENT_F_LAST 0x1u   /* SNAPSHOT_CHUNK: the final chunk */
#define CRAFT_EVENT_F_FAILED 0x2u /* SNAPSHOT_CHUNK: could not read */
#define CRAFT_EVENT_F_ADDR 0x4u   /* BOOTSTRAP, ADD_PEER, ADD_LEARNER:
                                     addresses given (1.1) */
#define CRAFT_EVENT_F_PERSISTED 0x8u /* a durability report rides along
                                        (1.1): see below */

typedef struct craft_event {
    uint32_t struct_size; /* sizeof(craft_event) */
    uint32_t type;        /* enum craft_event_type */
    uint64_t id;
    uint64_t index;
    uint64_t term;
    uint64_t peer;
    const void *data;
    size_t len;
    const craft_buf *bufs;
    size_t nbufs;
    const uint64_t *ids;
    size_t nids;
    uint64_t offset;
    uint32_t flags;
} craft_event;

#define CRAFT_EVENT_INIT                                                      \
    { (uint32_t)sizeof(craft_event), 0u, 0u, 0u, 0u, 0u, NULL, 0u, NULL, 0u,  \
      NULL, 0u, 0u, 0u }

/* Fills *ev like CRAFT_EVENT_INIT. CRAFT_EINVAL on NULL. */
CRAFT_API int craft_event_init(craft_event *ev);

/*
 * Feeds one event to the engine. The actions list is cleared and filled
 * with the ordered actions to carry out (see the host's contract above).
 * Errors: CRAFT_EINVAL (NULL, unknown event type, missing field),
 * CRAFT_ESTRUCT, CRAFT_EMALFORMED / CRAFT_ECHECKSUM / CRAFT_EVERSION (a
 * message that does not decode), CRAFT_ETOOBIG, CRAFT_ENOMEM,
 * CRAFT_ESTATE (e.g. BOOTSTRAP on a non-empty engine). On error the
 * engine is unchanged and the actions list is empty.
 * A proposal to a non-leader is not an error of the call: it yields a
 * PROPOSE_RESULT action with status CRAFT_ENOTLEADER and a leader hint.
 */
CRAFT_API int craft_engine_step(craft_engine *e, const craft_event *ev,
                                craft_actions *actions);

/* Read-only state. Return 0 on a NULL engine. */
CRAFT_API uint64_t craft_engine_id(const craft_engine *e);
CRAFT_API int craft_engine_role(const craft_engine *e);
CRAFT_API uint64_t craft_engine_term(const craft_engine *e);
CRAFT_API uint64_t craft_engine_vote(const craft_engine *e);
CRAFT_API uint64_t craft_engine_leader(const craft_engine *e);
/* The commit index. After a restart (craft_engine_load_*) it is the
 * loaded snapshot's index, or 0: entries loaded after it may well be
 * committed, but the engine learns how far only from a leader (see
 * craft_engine_commit_known()). */
CRAFT_API uint64_t craft_engine_commit_index(const craft_engine *e);
CRAFT_API uint64_t craft_engine_last_index(const craft_engine *e);
CRAFT_API uint64_t craft_engine_last_term(const craft_engine *e);
CRAFT_API uint64_t craft_engine_applied_index(const craft_engine *e);
CRAFT_API uint64_t craft_engine_persisted_index(const craft_engine *e);
/* Index and term of the latest snapshot the engine knows of (0 if none). */
CRAFT_API uint64_t craft_engine_snapshot_index(const craft_engine *e);
CRAFT_API uint64_t craft_engine_snapshot_term(const craft_engine *e);
/*
 * Since 1.1. 1 when craft_engine_commit_index() is the cluster's commit
 * index as far as this engine's log goes: always, except after
 * craft_engine_load_entry() loaded entries, until this engine accepts an
 * append, heartbeat or snapshot from a leader or, as leader, commits an
 * entry of its term (§5.4.2). 0 until then: the commit index then only
 * says that entries up to it are committed, not that later loaded ones
 * are not. 0 on a NULL engine.
 */
CRAFT_API int craft_engine_commit_known(const craft_engine *e);

/* Membership roles. */
enum craft_member_role_public {
    CRAFT_VOTER = 1,
    CRAFT_LEARNER = 2
};

/*
 * The current membership (the latest configuration in the log, thesis
 * §4.1): craft_engine_member_count() members, member k (0-based) written
 * to *id and *role (either may be NULL). CRAFT_EINVAL when out of range.
 */
CRAFT_API size_t craft_engine_member_count(const craft_engine *e);
CRAFT_API int craft_engine_member(const craft_engine *e, size_t k,
                                  uint64_t *id, int *role);
/*
 * The address of member k of the current membership: *addr points to
 * *len bytes owned by the engine (valid until the next step or load on
 * it); *len is 0 (and *addr NULL) for a member without one. CRAFT_EINVAL
 * on NULL arguments or k out of range.
 */
CRAFT_API int craft_engine_member_addr(const craft_engine *e, size_t k,
                                       const void **addr, size_t *len);

/* Replication progress states, as craft_engine_progress() reports them. */
enum craft_progress_state_public {
    CRAFT_PROGRESS_STATE_PROBE = 0,
    CRAFT_PROGRESS_STATE_REPLICATE = 1,
    CRAFT_PROGRESS_STATE_SNAPSHOT = 2
};

/*
 * What a leader knows of peer's log: highest replicated index, next index
 * to send, and the state (enum craft_progress_state_public). Any out
 * pointer may be NULL. CRAFT_ENOTLEADER on a non-leader,
 * CRAFT_EUNKNOWNPEER when peer is not a member.
 */
CRAFT_API int craft_engine_progress(const craft_engine *e, uint64_t peer,
                                    uint64_t *match, uint64_t *next,
                                    int *state);

/*
 * The membership bytes in force at the engine's latest snapshot or, when
 * index is given and its configuration is known, at that index; the host
 * stores them with a snapshot and hands them back through
 * craft_engine_load_snapshot(). *data is valid until the next step.
 * CRAFT_ENOENT when index is neither the snapshot index nor in the log.
 */
CRAFT_API int craft_engine_conf_at(const craft_engine *e, uint64_t index,
                                   const void **data, size_t *len);
/*
 * The actions list. One list can be reused for every step of an engine;
 * it keeps its capacity, so a warmed-up step allocates nothing.
 * craft_actions_create: CRAFT_EINVAL on NULL out, CRAFT_ESTRUCT on a bad
 * allocator struct, CRAFT_ENOMEM. craft_actions_free(NULL) is harmless.
 */
CRAFT_API int craft_actions_create(const craft_allocator *allocator,
                                   craft_actions **out);
CRAFT_API void craft_actions_free(craft_actions *a);

/*
 * Actions, in the order they must be carried out:
 *
 *  PERSIST_HARD_STATE term, vote       make (term, vote) durable
 *  APPEND             index, entries   write entries index.. to the log;
 *                                      report CRAFT_EVENT_PERSISTED after
 *  TRUNCATE           index            delete log entries >= index
 *  SEND               peer, message    send craft_action_message() bytes
 *  APPLY              index, entries   apply committed entries index..
 *  ROLE_CHANGE        role, term, leader  informational
 *  PROPOSE_RESULT     id, status, index, term, count, leader
 *                     status CRAFT_OK: the batch of count entries got
 *                     indexes index..index+count-1 in term (the receipt);
 *                     otherwise the error (e.g. CRAFT_ENOTLEADER with the
 *                     leader hint, CRAFT_NONE if unknown).
 *                     A receipt is not a commit: the entries commit when
 *                     an APPLY hands out index with the receipt's term.
 *                     If a new leader's entries overwrite them (§5.3) they
 *                     never commit: an APPLY then carries another term at
 *                     that index, and before that a TRUNCATE at or below
 *                     an index of the receipt removed them. With the
 *                     option lost_receipts (1.1) the engine says so
 *                     itself: a second PROPOSE_RESULT with the same id,
 *                     status CRAFT_ELOST, term the receipt's, and
 *                     index..index+count-1 the entries of the batch that
 *                     were removed (any earlier ones of the batch may
 *                     still commit). A snapshot installed over a log that
 *                     did not hold the snapshot's last entry leaves the
 *                     outcome of receipts at or below its index unknown
 *                     (with lost_receipts: a PROPOSE_RESULT with
 *                     CRAFT_ESTEPPEDDOWN and the receipt's fields in that
 *                     step). A receipt at or below a SNAPSHOT_INSTALL's
 *                     index that got no such answer in the same step is
 *                     committed: its entries are in the snapshot.
 *  READ_RESULT        id, status, index, leader
 *                     status CRAFT_OK: the read is linearizable once the
 *                     state machine has applied index. Otherwise
 *                     CRAFT_ENOTLEADER (leader hint), CRAFT_ENOTREADY (the
 *                     leader has not committed in its term yet: retry) or
 *                     CRAFT_ESTEPPEDDOWN.
 *  TRANSFER_RESULT    id, status, peer   CRAFT_OK when peer took over;
 *                     CRAFT_ETIMEDOUT when it did not within an election
 *                     timeout (proposals resume); CRAFT_ESTEPPEDDOWN.
 *  TAKE_SNAPSHOT      index        the policy asks for a snapshot at an
 *                                  applied index >= index; answer later
 *                                  with SNAPSHOT_TAKEN
 *  SNAPSHOT_READ      peer, index, offset, count
 *                     read count bytes (fewer at the end) at offset of the
 *                     snapshot at index and answer with a SNAPSHOT_CHUNK
 *                     event (now or in a later step)
 *  SNAPSHOT_WRITE     index, term, offset, data, conf, flags
 *                     write the chunk at offset of the incoming snapshot at
 *                     index (offset 0 starts a new one). With
 *                     CRAFT_ACTION_F_LAST it is complete: make it durable
 *                     with its index, term and conf (membership bytes)
 *                     before carrying out the next action.
 *  SNAPSHOT_INSTALL   index, term   restore the state machine from the
 *                     snapshot at index just written; log entries up to
 *                     index may be dropped (a TRUNCATE follows when the
 *                     rest of the log conflicts). Complete it before the
 *                     next action.
 *
 * Everything an action points to (entry payloads, message bytes) is owned
 * by the engine and the list, valid until the next craft_engine_step() on
 * the same engine or list, or until either is freed. Copy what you keep.
 */
enum craft_action_type {
    CRAFT_ACTION_PERSIST_HARD_STATE = 1,
    CRAFT_ACTION_APPEND = 2,
    CRAFT_ACTION_TRUNCATE = 3,
    CRAFT_ACTION_SEND = 4,
    CRAFT_ACTION_APPLY = 5,
    CRAFT_ACTION_ROLE_CHANGE = 6,
    CRAFT_ACTION_PROPOSE_RESULT = 7,
    CRAFT_ACTION_READ_RESULT = 8,
    CRAFT_ACTION_TRANSFER_RESULT = 9,
    CRAFT_ACTION_TAKE_SNAPSHOT = 10,
    CRAFT_ACTION_SNAPSHOT_READ = 11,
    CRAFT_ACTION_SNAPSHOT_WRITE = 12,
    CRAFT_ACTION_SNAPSHOT_INSTALL = 13
};

#define CRAFT_ACTION_F_LAST 0x1u /* SNAPSHOT_WRITE: the final chunk */

/* Number of actions; 0 on NULL. */
CRAFT_API size_t craft_actions_count(const craft_actions *a);
/* The type of action i, or CRAFT_EINVAL when a is NULL or i is out of
 * range. */
CRAFT_API int craft_action_type(const craft_actions *a, size_t i);
/* Scalar fields of action i (see the table above); 0 when the field does
 * not apply, a is NULL or i is out of range. */
CRAFT_API uint64_t craft_action_term(const craft_actions *a, size_t i);
CRAFT_API uint64_t craft_action_index(const craft_actions *a, size_t i);
CRAFT_API uint64_t craft_action_vote(const craft_actions *a, size_t i);
CRAFT_API uint64_t craft_action_peer(const craft_actions *a, size_t i);
/* (peer: SEND's destination, SNAPSHOT_READ's and TRANSFER_RESULT's peer) */
CRAFT_API uint64_t craft_action_leader(const craft_actions *a, size_t i);
CRAFT_API uint64_t craft_action_id(const craft_actions *a, size_t i);
CRAFT_API int craft_action_role(const craft_actions *a, size_t i);
CRAFT_API int craft_action_status(const craft_actions *a, size_t i);
CRAFT_API uint64_t craft_action_offset(const craft_actions *a, size_t i);
CRAFT_API uint32_t craft_action_flags(const craft_actions *a, size_t i);
/* Chunk bytes of a SNAPSHOT_WRITE (borrowed as above). CRAFT_EINVAL for
 * other actions. */
CRAFT_API int craft_action_data(const craft_actions *a, size_t i,
                                const void **data, size_t *len);
/* Membership bytes of a SNAPSHOT_WRITE, to store with the snapshot. */
CRAFT_API int craft_action_conf(const craft_actions *a, size_t i,
                                const void **data, size_t *len);
/* Entries carried by an APPEND or APPLY action, batch size of a
 * PROPOSE_RESULT, byte count of a SNAPSHOT_READ; 0 otherwise. */
CRAFT_API size_t craft_action_count(const craft_actions *a, size_t i);
/*
 * Entry k (0-based) of an APPEND or APPLY action: its log index is
 * craft_action_index() + k. Any out pointer may be NULL. *data is
 * borrowed (see above). CRAFT_EINVAL when out of range or not an entry
 * action.
 */
CRAFT_API int craft_action_entry(const craft_actions *a, size_t i, size_t k,
                                 uint64_t *term, uint32_t *type,
                                 const void **data, size_t *len);
/*
 * The wire bytes of a SEND action, encoded on first request into a buffer
 * owned by the list (valid as above). CRAFT_EINVAL when not a SEND,
 * CRAFT_ENOMEM.
 */
CRAFT_API int craft_action_message(craft_actions *a, size_t i,
                                   const void **data, size_t *len);

CRAFT_END_DECLS

#endif /* CRAFT_ENGINE_H */
