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
    struct craft_conf snap_conf;
    uint64_t snap_conf_index;
    struct craft_progress prs[CRAFT_MAX_MEMBERS]; /* parallel to conf.m */
    uint64_t *inflight_buf;

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
};

/* ---- rand.c ---- */
uint64_t craft_rand(struct craft_engine *e);
void craft_reset_election_timeout(struct craft_engine *e);

/* ---- membership.c ---- */
int craft_conf_index_of(const struct craft_engine *e, uint64_t id);
int craft_is_voter(const struct craft_engine *e, uint64_t id);
uint32_t craft_quorum(const struct craft_engine *e);
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

/* ---- step.c ---- */
int craft_step_msg(struct craft_engine *e, const struct craft_msg *m,
                   struct craft_actions *out);

/* Actions a step can produce at most, reserved before anything changes so
 * that a step cannot fail half-way. */
size_t craft_actions_bound(const struct craft_engine *e);

#endif /* CRAFT_ENGINE_ENGINE_H */
