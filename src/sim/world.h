/*
 * sim/world.h: the state of one simulation run, shared by the files of
 * src/sim (each implements one concern: host.c carries out actions,
 * inv_*.c check invariants, chaos.c injects faults, ...).
 *
 * Internal to the simulator and its tests. It reads craft's engine
 * internals (engine/engine.h): the sim is built with the library and
 * never shipped in libcraft.so.
 */
#ifndef CRAFT_SIM_WORLD_H
#define CRAFT_SIM_WORLD_H

#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "sim/disk.h"
#include "sim/heap.h"
#include "sim/history.h"
#include "sim/kv.h"
#include "sim/net.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include "sim/win.h"

#define SIM_MAX_CLIENTS 32u
#define SIM_PROBE_CLIENT SIM_MAX_CLIENTS /* the liveness probe's "client" */
#define SIM_ADMIN_ID (1ull << 62)        /* ids of admin requests */
#define SIM_BATCH_ID (1ull << 61)        /* ids of proposal batches */
#define SIM_BATCH_MAX 16u

/* Independent random streams (see rng.h). */
enum sim_stream {
    SIM_RNG_PARAMS,
    SIM_RNG_NET,
    SIM_RNG_DISK,
    SIM_RNG_CHAOS,
    SIM_RNG_CLIENT,
    SIM_RNG_TICK,
    SIM_RNG_KIND, /* + kind: one stream per chaos kind's draws */
    SIM_RNG_COUNT = SIM_RNG_KIND + SIM_K_COUNT
};

/* Run parameters, drawn once from the seed. Times are in sim units; a
 * base tick is `tick` units. */
struct sim_params {
    craft_engine_options eng; /* id and seed are set per node */
    uint64_t tick;
    uint32_t skew_ppm;        /* max deviation of a node's tick period */
    uint64_t lat_min, lat_max; /* network latency */
    uint64_t disk_min, disk_max;
    uint32_t snap_pad;        /* filler bytes in snapshots: more chunks */
    uint32_t min_voters;      /* membership changes keep at least this */
    uint64_t op_timeout;      /* ticks a client waits before giving up */
    uint64_t live_bound;      /* ticks after heal to elect and commit */
    uint64_t chaos_min, chaos_max; /* length of a chaos phase, ticks */
};

/* What the checker knows of one entry of a log. */
struct sim_sentry {
    uint64_t term;
    uint64_t hash; /* prefix hash through this entry (hash.h) */
    uint32_t type;
    uint32_t pad;
};

/* Read confirmation (inv_read.c), per leader and term. */
#define SIM_READ_ROUNDS 64u
#define SIM_READ_ARRIVALS 64u
struct sim_round { /* when heartbeat round ctx first left the leader */
    uint64_t ctx, time, tick;
    int known;
};
struct sim_arrival { /* a read the leader has to answer */
    uint64_t from, id, time, step;
    int used;
};
struct sim_node_read {
    uint64_t term;
    struct sim_round round[SIM_READ_ROUNDS];
    /* per peer slot: the newest round it acknowledged, when it left */
    uint64_t ack_time[SIM_MAX_NODES];
    uint64_t ack_tick[SIM_MAX_NODES];
    uint8_t acked[SIM_MAX_NODES];
    struct sim_arrival arr[SIM_READ_ARRIVALS];
    uint64_t narr_next;
};

struct sim_node {
    uint32_t slot;
    uint64_t id; /* slot + 1 */
    int up;
    uint32_t inc; /* incarnation: bumped by each crash */
    int founder;  /* one of the initial voters (bootstraps) */
    craft_engine *e;
    craft_actions *acts;

    /* Host: carrying out the action list of the last step. */
    size_t next_act;  /* next action to carry out */
    uint64_t barrier; /* write that a SEND must wait for (this list) */
    int blocked;      /* waiting for disk write block_seq */
    uint64_t block_seq;
    uint64_t block_until;
    uint64_t tick_period;
    struct sim_disk disk;
    uint64_t slow_disk_until;
    struct sim_kv kv;
    struct sim_win applyq;   /* struct sim_dentry: handed over, not applied */
    uint64_t slow_apply_until;
    int apply_scheduled;
    uint64_t snap_want;      /* TAKE_SNAPSHOT asked for this index */
    uint64_t snap_queued;    /* newest snapshot on its way to the disk */
    struct sim_snap in;      /* incoming snapshot being written */
    int in_active;
    uint64_t reads;          /* ops waiting for kv.applied (list) */
    uint64_t batch[SIM_BATCH_MAX];   /* requests the host will propose */
    uint32_t nbatch;
    int flush_scheduled;
    uint64_t proposing[SIM_BATCH_MAX]; /* the batch of the last PROPOSE */
    uint32_t nproposing;

    /* Checker: the engine as seen through its actions. */
    struct sim_win shadow;   /* struct sim_sentry */
    uint64_t base_hash;      /* prefix hash at shadow.base */
    uint64_t base_term;      /* term of the entry at shadow.base */
    uint64_t confs[16];      /* indexes of CONFIG entries past base */
    uint32_t nconfs;
    int role;
    uint64_t term;
    uint64_t commit;
    uint64_t applied;        /* engine APPLY hand-over */
    uint64_t hs_term, hs_vote; /* last hard state written */
    uint32_t voters;         /* slots voting in its configuration, as of
                                the end of its last step */
    /* Calm checks (phase.c): appends sent in this calm phase that it
     * rejected below every earlier rejection (each a round trip of the
     * leader's search for where the logs match), the lowest rejected
     * index, and the distinct terms of its log past the committed prefix
     * when the phase began. */
    uint32_t calm_rejects;
    uint64_t calm_low;
    uint32_t calm_terms;
    struct sim_node_read rd;
};

struct sim_term {
    uint64_t leader;     /* the leader elected in the term, 0 if none */
    uint64_t committed;  /* highest index committed by a node in the term */
};

struct sim_lm { /* log matching table slot */
    uint64_t index, term, hash;
};

struct sim_inv {
    struct sim_win committed; /* struct sim_sentry of committed entries */
    struct sim_win leaders;   /* struct sim_term of each term */
    struct sim_lm *lm;        /* (index, term) -> prefix hash */
    size_t lm_n, lm_cap;
    uint64_t lm_floor;        /* entries below were pruned */
};

struct sim_client {
    uint64_t op;     /* current operation, 0 when idle */
    uint64_t target; /* id of the server it believes leads, 0: none */
    uint64_t deadline;
};

enum sim_phase {
    SIM_PHASE_CHAOS,
    SIM_PHASE_CALM, /* faults healed: liveness is checked */
    SIM_PHASE_FINAL /* the steps are done: settle, check, stop */
};

/* Client operation phases (sim_hop.phase). */
enum sim_op_phase {
    SIM_OPP_SENDING = 0, /* request on its way to a node */
    SIM_OPP_PROPOSED,    /* holds a receipt */
    SIM_OPP_READING,     /* READ given to the engine */
    SIM_OPP_WAITING      /* read index known, waiting for the apply */
};

struct sim {
    struct sim_options opt;
    struct sim_params par;
    struct sim_result *res;
    struct sim_rng rng[SIM_RNG_COUNT];
    uint64_t now;
    int stop; /* a violation (or a fatal error) ends the run */

    struct sim_heap heap;
    struct sim_net net;
    uint32_t nslots;
    struct sim_node node[SIM_MAX_NODES];
    struct sim_inv inv;

    /* Workload. */
    struct sim_history hist;
    struct sim_client client[SIM_MAX_CLIENTS];
    uint64_t *receipts; /* op ids holding a receipt, unresolved */
    size_t nreceipts, capreceipts;
    uint64_t sm_max;      /* highest index any state machine applied */
    uint64_t sm_max_term;
    uint64_t next_value;  /* put values are unique */
    uint64_t last_value[SIM_MAX_KEYS];
    uint64_t admin_seq;
    int no_read;          /* READ refused: gets go through the log */
    int no_admin[16];     /* an admin event kind was refused */

    /* Phases. */
    int phase;
    uint64_t phase_end;   /* CHAOS: when it ends (time) */
    uint64_t calm_start;
    uint64_t probe;       /* liveness probe op */
    uint64_t live_at;     /* when the probe committed, 0 before */
    uint64_t calm_term;   /* the term of the calm phase's leader, watched
                             from when the probe committed (pre-vote on);
                             0: not (yet) watched */
    int calm_watch;       /* terms are watched in this phase (no transfer
                             gave a reason for a new one) */
    uint64_t calm_elections; /* elections when the calm phase began */

    /* Trace. */
    uint64_t hash;
    FILE *trace;
};

/* ---- sim.c ---- */
/* Records the first violation and stops the run. */
void sim_fail(struct sim *s, int check, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Pushes an event (out of memory stops the run). */
void sim_push(struct sim *s, struct sim_ev *ev);
struct sim_node *sim_node_of(struct sim *s, uint64_t id);
/* Feeds one event (or, with msg, a message) to n's engine, checks it and
 * carries out its actions. Returns the engine's result. */
int sim_step(struct sim *s, struct sim_node *n, const craft_event *ev,
             const struct craft_msg *msg);
/* ---- dispatch.c ---- */
/* Does what the event says. */
void sim_dispatch(struct sim *s, struct sim_ev *ev);

/* Ticks of sim time now. */
static inline uint64_t sim_ticks(const struct sim *s)
{
    return s->now / s->par.tick;
}

/* ---- params.c ---- */
void sim_params_draw(struct sim *s);

/* ---- node.c ---- */
int sim_node_boot(struct sim *s, struct sim_node *n);  /* at time 0 */
int sim_node_start(struct sim *s, struct sim_node *n); /* from disk */
void sim_node_crash(struct sim *s, struct sim_node *n, int torn);
void sim_node_schedule_tick(struct sim *s, struct sim_node *n,
                            uint64_t at);

/* ---- host.c: the host's side of the engine contract ---- */
/* Carries out n's actions from n->next_act until done or blocked. */
void sim_host_run(struct sim *s, struct sim_node *n);
/* n's disk completed writes up to seq. */
void sim_host_disk_done(struct sim *s, struct sim_node *n, uint64_t seq);
/* Snapshots n's state machine (at its applied index). */
void sim_host_take_snapshot(struct sim *s, struct sim_node *n);
uint64_t sim_disk_latency(struct sim *s, struct sim_node *n);

/* ---- apply.c: the state machine side ---- */
void sim_apply_queue(struct sim *s, struct sim_node *n, uint64_t index,
                     const struct craft_entry *ents, size_t count);
void sim_apply_drain(struct sim *s, struct sim_node *n);
/* The state machine was restored to a snapshot: forget queued entries. */
void sim_apply_reset(struct sim *s, struct sim_node *n);

/* ---- propose.c: the host batches proposals ---- */
void sim_propose_queue(struct sim *s, struct sim_node *n, uint64_t id);
void sim_propose_flush(struct sim *s, struct sim_node *n);
void sim_propose_result(struct sim *s, struct sim_node *n,
                        const struct craft_action *x);
/* n crashed: its batches never reached the engine (or are lost). */
void sim_propose_lost(struct sim *s, struct sim_node *n);

/* ---- client.c ---- */
void sim_client_start(struct sim *s, uint32_t c);
void sim_client_timeout(struct sim *s, uint32_t c, uint64_t op);
void sim_client_request(struct sim *s, struct sim_node *n, uint64_t op);
/* The outcome of proposing op id at n: a receipt or an error. */
void sim_client_receipt(struct sim *s, struct sim_node *n, uint64_t id,
                        int status, uint64_t index, uint64_t term,
                        uint64_t leader);
/* Op id certainly had no effect at the node it went to: try again. */
void sim_client_retry(struct sim *s, uint64_t id);
void sim_client_read_result(struct sim *s, struct sim_node *n,
                            const struct craft_action *x);
/* n's state machine applied entry index (term) as command c (NULL for
 * no-ops and configurations) with result out. */
void sim_client_applied(struct sim *s, struct sim_node *n, uint64_t index,
                        uint64_t term, const struct sim_cmd *c,
                        uint64_t out);
/* n's state machine moved to applied (reads waiting on it complete). */
void sim_client_reads(struct sim *s, struct sim_node *n);
/* n crashed: reads waiting on it fail. */
void sim_client_node_lost(struct sim *s, struct sim_node *n);
/* An operation proposed for the liveness probe. */
uint64_t sim_client_probe(struct sim *s, struct sim_node *leader);

/* ---- chaos.c: faults drawn once per tick ---- */
void sim_chaos_roll(struct sim *s);
/* Draws whether a fault of kind happens now (its own random stream). */
int sim_chaos_draw(struct sim *s, int kind);
/* Counts (and traces) a fault that happened. */
void sim_chaos_count(struct sim *s, int kind, uint64_t a, uint64_t b);
/* Removes every cut (counted as a fault when count). */
void sim_chaos_heal(struct sim *s, int count);
/* The leader of the highest term among up nodes, or NULL. */
struct sim_node *sim_leader(struct sim *s);

/* ---- send.c ---- */
/* Per-message faults; pushes the delivery (or not). */
void sim_net_send(struct sim *s, struct sim_node *from,
                  const struct craft_msg *m);

/* ---- phase.c ---- */
/* Starts a calm phase: heals every fault, restarts every node. */
void sim_chaos_calm(struct sim *s, int final);
/* A calm phase's tick: the liveness probe and its bound, and the calm
 * checks. */
void sim_liveness_tick(struct sim *s);
/* m, sent at m_sent, was delivered to n: counts a rejected append of
 * this calm phase. */
void sim_calm_delivered(struct sim *s, struct sim_node *n,
                        const struct craft_msg *m, uint64_t m_sent);

/* ---- trace.c ---- */
void sim_trace_step(struct sim *s, const struct sim_node *n,
                    const craft_event *ev, const struct craft_msg *m,
                    int rv);
void sim_trace_actions(struct sim *s, const struct sim_node *n);
void sim_trace_fault(struct sim *s, int kind, uint64_t a, uint64_t b);
void sim_trace_note(struct sim *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- inv_*.c: invariants ---- */
void sim_inv_init(struct sim_inv *inv);
void sim_inv_free(struct sim_inv *inv);
/* After each step of n: every action of the list, in order, and the
 * engine's state (inv_step.c). */
void sim_inv_step(struct sim *s, struct sim_node *n, const craft_event *ev);
/* Individual checks, also called by the tests on corrupted state. */
void sim_inv_role(struct sim *s, struct sim_node *n, int role,
                  uint64_t term);
void sim_inv_hard_state(struct sim *s, struct sim_node *n, uint64_t term,
                        uint64_t vote);
void sim_inv_truncate(struct sim *s, struct sim_node *n, uint64_t index);
void sim_inv_append(struct sim *s, struct sim_node *n, uint64_t index,
                    const struct craft_entry *ents, size_t count);
void sim_inv_commit(struct sim *s, struct sim_node *n, uint64_t commit);
/* Records n's voters (after each step, and after loading its state). */
void sim_inv_voters(struct sim *s, struct sim_node *n);
void sim_inv_engine_apply(struct sim *s, struct sim_node *n, uint64_t index,
                          size_t count);
void sim_inv_compact(struct sim *s, struct sim_node *n, uint64_t index,
                     uint64_t term, uint64_t hash);
/* A message leaves n (persist-before-send). */
void sim_inv_send(struct sim *s, struct sim_node *n,
                  const struct craft_msg *m);
/* After a step that delivered m to n (whose commit was before): a
 * follower commits at most what the append showed to match (§5.3). */
void sim_inv_follower_commit(struct sim *s, struct sim_node *n,
                             const struct craft_msg *m, uint64_t before);
/* n's configuration in force is its log's latest (thesis §4.1). */
void sim_inv_membership(struct sim *s, struct sim_node *n);
/* Reads (inv_read.c): a heartbeat leaves n; after a step of n (ev, or
 * the message m delivered): arrivals, acknowledgements, answers. */
void sim_inv_read_sent(struct sim *s, struct sim_node *n,
                       const struct craft_msg *m);
void sim_inv_read_step(struct sim *s, struct sim_node *n,
                       const craft_event *ev, const struct craft_msg *m);
/* A state machine applies an entry: its prefix hash against the
 * committed log. */
void sim_inv_sm_apply(struct sim *s, struct sim_node *n, uint64_t index,
                      uint64_t hash);
/* n crashed (its disk already lost what was not durable). */
void sim_inv_crash(struct sim *s, struct sim_node *n);
/* Rebuilds n's shadow log from its durable state after a restart. */
int sim_inv_restart(struct sim *s, struct sim_node *n);
/* Committed entry at index, NULL when unknown. */
const struct sim_sentry *sim_inv_committed(const struct sim *s,
                                           uint64_t index);
/* Shadow entry of n at index (NULL outside). */
static inline const struct sim_sentry *sim_shadow_at(const struct sim_node *n,
                                                     uint64_t index)
{
    return (const struct sim_sentry *)sim_win_at(&n->shadow, index);
}
/* Prefix hash of n's log at index (base included); 0 with *ok = 0 when
 * unknown. */
uint64_t sim_shadow_hash(const struct sim_node *n, uint64_t index, int *ok);

#endif /* CRAFT_SIM_WORLD_H */
