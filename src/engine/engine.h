/*
 * engine/engine.h: the engine's state and the internal interface between
 * the files that each implement one Raft rule.
 */
#ifndef CRAFT_ENGINE_ENGINE_H
#define CRAFT_ENGINE_ENGINE_H

#include "codec/conf.h"
#include "codec/message.h"
#include "engine/actions.h"
#include "engine/log.h"
#include "engine/progress.h"
#include "util/alloc.h"

#define CRAFT_MAX_INFLIGHT 4096u

struct craft_engine {
    struct craft_alloc alloc;
    craft_engine_options opts;
    uint64_t id;

    /* Persistent state (Figure 2): made durable by PERSIST_HARD_STATE. */
    uint64_t term;
    uint64_t vote;

    /* Volatile state. */
    int role;
    uint64_t leader;
    uint64_t commit;
    uint64_t applied;   /* last index handed out in an APPLY action */
    uint64_t persisted; /* last index the host reported durable */
    struct craft_log log;

    /* Membership: the latest configuration in the log takes effect as
     * soon as it is appended (thesis §4.1). snap_conf is the one covered
     * by the snapshot, to fall back to when entries are truncated. */
    struct craft_conf conf;
    uint64_t conf_index;
    uint32_t quorum; /* majority of conf's voters, cached */
    size_t conf_reserve; /* log bytes a step reserves for a configuration
                            it may append (craft_conf_set) */
    struct craft_conf snap_conf;
    uint64_t snap_conf_index;
    struct craft_progress prs[CRAFT_MAX_MEMBERS]; /* parallel to conf.m */
    uint64_t *inflight_buf;

    /* Elections (election.c, vote.c): the configuration a campaign counts
     * votes in (see craft_electable) and the answers so far, by its slot. */
    struct craft_conf elec_conf;
    uint8_t vote_granted[CRAFT_MAX_MEMBERS];
    uint8_t vote_responded[CRAFT_MAX_MEMBERS];

    /* Timers, in ticks. */
    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t election_timeout; /* randomized in [e, 2e) */

    uint64_t rng;
    int started; /* a step ran: load_* refuse from now on */

    /* Per-step state. */
    struct craft_actions *out;
    int hs_dirty;          /* term/vote changed, not yet in an action */
    uint64_t unstable;     /* first index appended this step, 0 if none */
    uint64_t truncated_at; /* TRUNCATE pending from this index, 0 if none */
    int apply_pending;

    struct craft_entry_vec scratch; /* decoder scratch */

    uint64_t ticks; /* logical clock: ticks seen since creation */

    /* Snapshots (snapshot.c, install.c). snapshot_* is the newest
     * snapshot; the log may start before it (trailing entries kept). */
    uint64_t snapshot_index;
    uint64_t snapshot_term;
    uint8_t *snap_conf_bytes; /* encoded snap_conf, CRAFT_CONF_MAX_BYTES */
    size_t snap_conf_len;
    struct craft_conf base_conf; /* conf in force at log.snap_index */
    uint64_t base_conf_index;
    int snap_requested;          /* a TAKE_SNAPSHOT is outstanding */
    uint64_t since_snap_entries; /* applied since the last snapshot */
    uint64_t since_snap_bytes;
    uint8_t *chunk;  /* copy of the chunk a step sends or writes */
    size_t chunk_cap;
    uint8_t *conf_out; /* craft_engine_conf_at's buffer */
    /* Incoming snapshot (follower). */
    int in_active;
    uint64_t in_index;
    uint64_t in_term;
    uint64_t in_offset;
    uint64_t in_from;     /* the leader sending it, in term in_msg_term: */
    uint64_t in_msg_term; /* chunks of another sender are not spliced in */

    /* Linearizable reads (read_index.c). */
    struct craft_read *reads;
    size_t n_reads;
    size_t cap_reads;
    uint64_t read_round;   /* last confirmation round started */
    uint64_t read_acked;   /* last round a quorum confirmed */
    uint64_t round_tick[16]; /* tick each recent round started at */
    uint64_t lease_until;  /* lease reads: valid while ticks < this */

    /* Leadership transfer (transfer.c). */
    uint64_t transfer_target;
    uint64_t transfer_id;
    uint32_t transfer_elapsed;
    int transfer_sent;
    int transfer_handover; /* stepped down for the target's campaign */
    int lease_revoked;     /* TimeoutNow sent this term: no more leases */

    /* Receipts this engine gave and not yet committed, in index order,
     * kept only with opts.lost_receipts (receipts.c). */
    struct craft_receipt *rcpt;
    size_t n_rcpt;
    size_t cap_rcpt;

    /* Entries were loaded after the snapshot and no leader has told us
     * yet how far they are committed (craft_engine_commit_known). */
    int commit_unknown;

    /* Learner promotion (change.c). */
    struct {
        int active;
        uint64_t peer;
        uint64_t id;
        uint64_t round_end;
        uint64_t round_start;
        uint64_t started;
        uint32_t rounds;
    } promo;

#ifdef CRAFT_PLANTED_BUGS
    int planted_bug;
#endif
};

/* A receipt (PROPOSE_RESULT OK): entries index..index+count-1 in term. */
struct craft_receipt {
    uint64_t id;
    uint64_t index;
    uint64_t count;
    uint64_t term;
};

/* A pending read: confirmed once a quorum acknowledged round `round`. */
struct craft_read {
    uint64_t id;
    uint64_t index;
    uint64_t round;
    uint64_t from; /* this server, or the follower that forwarded it */
};

#ifdef CRAFT_PLANTED_BUGS
/* Test-only, never in release builds: deliberately broken behaviour the
 * simulator must catch, which shows its checks are not vacuous. */
enum {
    CRAFT_BUG_NONE = 0,
    CRAFT_BUG_COMMIT_NO_QUORUM = 1, /* leader commits on its own ack */
    CRAFT_BUG_READ_NO_READINDEX = 2, /* leader answers reads at once */
    CRAFT_BUG_VOTE_TWICE = 3,       /* grants a second vote in a term */
    /* Each of the following breaks one rule a test must guard. */
    CRAFT_BUG_FOLLOWER_COMMIT = 4,  /* follower takes leaderCommit up to its
                                       last index, past the new entries */
    CRAFT_BUG_COMMIT_OLD_TERM = 5,  /* leader commits an older term's entry
                                       by counting replicas (Figure 8) */
    CRAFT_BUG_READ_OLD_ROUND = 6,   /* a read joins a heartbeat round
                                       started before it arrived */
    CRAFT_BUG_LEASE_FROM_ACK = 7,   /* lease timed from the acks, not from
                                       when the round was sent */
    CRAFT_BUG_SNAPSHOT_KEEP = 8,    /* install keeps the log suffix whatever
                                       the term at the snapshot index */
    CRAFT_BUG_CONF_NO_ROLLBACK = 9, /* truncating a CONFIG entry keeps its
                                       membership */
    CRAFT_BUG_SLOW_BACKOFF = 10,    /* ignores the conflict hint: backs off
                                       one entry per round trip */
    CRAFT_BUG_NO_PREVOTE = 11       /* campaigns without a pre-vote */
};
void craft_engine_plant_bug(craft_engine *e, int bug);
#define CRAFT_BUG(e, b) ((e)->planted_bug == (b))
#else
#define CRAFT_BUG(e, b) 0
#endif

/* ---- receipts.c: answers to receipts whose entries were lost ---- */
/* Room for one more receipt (step prologue); CRAFT_ENOMEM. */
int craft_receipts_reserve(struct craft_engine *e);
/* Records the receipt just pushed as a PROPOSE_RESULT OK. */
void craft_receipt_add(struct craft_engine *e, uint64_t id, uint64_t index,
                       uint64_t count, uint64_t term);
/* Entries from index on are being removed: their receipts are lost. */
void craft_receipts_truncated(struct craft_engine *e, uint64_t index);
/* Entries up to index are committed: their receipts are done. */
void craft_receipts_committed(struct craft_engine *e, uint64_t index);
/* A snapshot at index replaced the log (keep: the log held its last
 * entry). */
void craft_receipts_installed(struct craft_engine *e, uint64_t index,
                              int keep);

/* ---- rand.c ---- */
uint64_t craft_rand(struct craft_engine *e);
void craft_reset_election_timeout(struct craft_engine *e);

/* ---- membership.c ---- */
int craft_conf_index_of(const struct craft_engine *e, uint64_t id);
int craft_is_voter(const struct craft_engine *e, uint64_t id);
uint32_t craft_quorum(const struct craft_engine *e);
/* Whether this server may campaign, and (if out is not NULL) the
 * configuration its election counts votes in. */
int craft_electable(const struct craft_engine *e, struct craft_conf *out);
void craft_conf_set(struct craft_engine *e, const struct craft_conf *c,
                    uint64_t index);
/* Re-derives conf from the log after a truncation. */
void craft_conf_rollback(struct craft_engine *e);
/* Called on append of a CONFIG entry. */
void craft_conf_on_append(struct craft_engine *e, uint64_t index);

/* ---- role.c ---- */
void craft_become_follower(struct craft_engine *e, uint64_t term,
                           uint64_t leader);
void craft_become_pre_candidate(struct craft_engine *e);
void craft_become_candidate(struct craft_engine *e);
void craft_become_leader(struct craft_engine *e);
void craft_set_leader(struct craft_engine *e, uint64_t leader);

/* ---- persist.c: storage actions and their ordering ---- */
void craft_mark_hard_state(struct craft_engine *e);
/* Appends to the log, recording the APPEND to emit. */
void craft_append_entry(struct craft_engine *e, uint64_t term, uint32_t type,
                        const void *data, uint32_t len);
void craft_truncate_from(struct craft_engine *e, uint64_t index);
/* Emits pending PERSIST_HARD_STATE, TRUNCATE and APPEND actions. */
void craft_flush_storage(struct craft_engine *e);
void craft_flush_hard_state(struct craft_engine *e);
int craft_on_persisted(struct craft_engine *e, uint64_t index, uint64_t term);

/* ---- send.c ---- */
/* Queues a message. A dependent send first flushes every pending storage
 * action (Figure 2); an independent one (a leader replicating entries it
 * is still writing, thesis §10.2.1) flushes only the hard state. */
struct craft_msg *craft_send(struct craft_engine *e, uint32_t type,
                             uint64_t to);
struct craft_msg *craft_send_independent(struct craft_engine *e,
                                         uint32_t type, uint64_t to);
/* An independent APPEND carrying log entries first..first+count-1. */
struct craft_msg *craft_send_entries(struct craft_engine *e, uint64_t to,
                                     uint64_t first, uint64_t count);
void craft_emit_role_change(struct craft_engine *e);

/* ---- election.c ---- */
void craft_tick(struct craft_engine *e);
void craft_campaign(struct craft_engine *e, int pre, uint32_t flags);

/* ---- vote.c ---- */
void craft_on_vote(struct craft_engine *e, const struct craft_msg *m);
void craft_on_vote_resp(struct craft_engine *e, const struct craft_msg *m);

/* ---- replicate.c (leader) ---- */
void craft_send_append(struct craft_engine *e, int slot, int allow_empty);
void craft_broadcast_append(struct craft_engine *e);
void craft_broadcast_heartbeat(struct craft_engine *e);
void craft_on_append_resp(struct craft_engine *e, const struct craft_msg *m);
void craft_on_heartbeat_resp(struct craft_engine *e,
                             const struct craft_msg *m);

/* ---- append.c (follower) ---- */
void craft_on_append(struct craft_engine *e, const struct craft_msg *m);
void craft_on_heartbeat(struct craft_engine *e, const struct craft_msg *m);

/* ---- commit.c ---- */
void craft_maybe_commit(struct craft_engine *e);
void craft_commit_to(struct craft_engine *e, uint64_t index);
void craft_flush_apply(struct craft_engine *e);

/* ---- propose.c ---- */
void craft_on_propose(struct craft_engine *e, const craft_event *ev);

/* ---- read_index.c ---- */
void craft_on_read(struct craft_engine *e, uint64_t id);
void craft_on_read_index(struct craft_engine *e, const struct craft_msg *m);
void craft_on_read_index_resp(struct craft_engine *e,
                              const struct craft_msg *m);
void craft_reads_on_ack(struct craft_engine *e);
void craft_reads_heartbeat_tick(struct craft_engine *e);
void craft_reads_fail(struct craft_engine *e, int status);
uint64_t craft_read_ctx(const struct craft_engine *e);

/* ---- transfer.c ---- */
void craft_on_transfer(struct craft_engine *e, uint64_t id, uint64_t peer);
void craft_transfer_tick(struct craft_engine *e);
void craft_transfer_progress(struct craft_engine *e, int slot);
void craft_transfer_end(struct craft_engine *e, int status);
void craft_on_timeout_now(struct craft_engine *e, const struct craft_msg *m);
void craft_transfer_observe_leader(struct craft_engine *e, uint64_t leader);

/* ---- change.c ---- */
/* addr: the new member's address (ADD_PEER, ADD_LEARNER), opaque. */
void craft_on_change(struct craft_engine *e, uint32_t type, uint64_t id,
                     uint64_t peer, const void *addr, size_t addr_len);
void craft_promo_check(struct craft_engine *e);
void craft_promo_cancel(struct craft_engine *e, int status);
void craft_after_commit(struct craft_engine *e);

/* ---- snapshot.c (leader side, policy, compaction) ---- */
int craft_on_snapshot_taken(struct craft_engine *e, uint64_t index,
                            uint64_t term);
void craft_snapshot_start(struct craft_engine *e, int slot);
void craft_on_snapshot_chunk(struct craft_engine *e, const craft_event *ev);
void craft_on_snapshot_resp(struct craft_engine *e,
                            const struct craft_msg *m);
void craft_snapshot_tick(struct craft_engine *e);
void craft_snapshot_policy(struct craft_engine *e, uint64_t from,
                           uint64_t to);
/* Conf in force at index (searching the log back to its start, then the
 * base configuration). */
void craft_conf_at_index(const struct craft_engine *e, uint64_t index,
                         struct craft_conf *out);
int craft_chunk_reserve(struct craft_engine *e, size_t len);

/* ---- install.c (follower side) ---- */
void craft_on_snapshot(struct craft_engine *e, const struct craft_msg *m);

/* ---- step.c ---- */
int craft_step_msg(struct craft_engine *e, const struct craft_msg *m,
                   struct craft_actions *out);

/* ---- check.c ---- */
/* Asserts the engine's invariants (checked builds; see util/assert.h). */
#ifdef CRAFT_CHECKED
void craft_engine_check(const struct craft_engine *e);
#else
#define craft_engine_check(e) ((void)(e))
#endif

/* Actions a step can produce at most, reserved before anything changes so
 * that a step cannot fail half-way. */
size_t craft_actions_bound(const struct craft_engine *e);

#endif /* CRAFT_ENGINE_ENGINE_H */
