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
} craft_engine_options;

#define CRAFT_ENGINE_OPTIONS_INIT                                             \
    { (uint32_t)sizeof(craft_engine_options), 10u, 0u, 0u, 1u, 256u,         \
      1024u * 1024u, 1, 1, NULL }

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
 * Errors: CRAFT_EINVAL (NULL, non-contiguous index, term going down or
 * above the hard state term), CRAFT_EMALFORMED (bad membership bytes),
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
 *                                empty engine
 */
enum craft_event_type {
    CRAFT_EVENT_TICK = 1,
    CRAFT_EVENT_MESSAGE = 2,
    CRAFT_EVENT_PROPOSE = 3,
    CRAFT_EVENT_PERSISTED = 4,
    CRAFT_EVENT_BOOTSTRAP = 5
};

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
} craft_event;

#define CRAFT_EVENT_INIT                                                      \
    { (uint32_t)sizeof(craft_event), 0u, 0u, 0u, 0u, 0u, NULL, 0u, NULL, 0u,  \
      NULL, 0u }

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
CRAFT_API uint64_t craft_engine_commit_index(const craft_engine *e);
CRAFT_API uint64_t craft_engine_last_index(const craft_engine *e);
CRAFT_API uint64_t craft_engine_last_term(const craft_engine *e);
CRAFT_API uint64_t craft_engine_applied_index(const craft_engine *e);
CRAFT_API uint64_t craft_engine_persisted_index(const craft_engine *e);

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
    CRAFT_ACTION_PROPOSE_RESULT = 7
};

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
CRAFT_API uint64_t craft_action_leader(const craft_actions *a, size_t i);
CRAFT_API uint64_t craft_action_id(const craft_actions *a, size_t i);
CRAFT_API int craft_action_role(const craft_actions *a, size_t i);
CRAFT_API int craft_action_status(const craft_actions *a, size_t i);
/* Entries carried by an APPEND or APPLY action (batch size for a
 * PROPOSE_RESULT); 0 otherwise. */
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
