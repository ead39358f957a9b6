/*
 * sim/sim.h: the deterministic Raft simulator (libcraft-sim.a).
 *
 * A run drives 1-9 craft engines in one thread against a simulated clock,
 * network and disk, injects faults, checks the Raft safety properties
 * after every step and the client history for linearizability at the end.
 * Everything is decided by one 64-bit seed: the same options give the
 * same run, byte for byte, and the same trace hash.
 *
 * This library is internal to craft (it reads engine internals) and is
 * never part of libcraft.so. craft-sim (src/tools/craft-sim.c) is its
 * command line.
 */
#ifndef CRAFT_SIM_SIM_H
#define CRAFT_SIM_SIM_H

#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_NODES 9u

/*
 * Chaos kinds. Each has a rate in parts per million; what the rate is
 * per (a message, a chaos roll once per base tick, a crash) is listed in
 * sim_kind_help(). The default profile turns them all on.
 */
enum sim_kind {
    SIM_K_DROP,      /* per message: lost */
    SIM_K_DUP,       /* per message: delivered twice */
    SIM_K_DELAY,     /* per message: held back up to two election timeouts */
    SIM_K_REORDER,   /* per message: latency redrawn up to 10x (overtakes) */
    SIM_K_PARTITION, /* per roll: split the nodes in two, both directions */
    SIM_K_ASYM,      /* per roll: cut one direction between two nodes */
    SIM_K_HEAL,      /* per roll: remove every cut */
    SIM_K_CRASH,     /* per roll: crash a node (it restarts later) */
    SIM_K_TORN,      /* per crash: the write in progress is torn */
    SIM_K_SLOWDISK,  /* per roll: a node's disk turns slow for a while */
    SIM_K_SLOWAPPLY, /* per roll: a node's state machine lags for a while */
    SIM_K_SKEW,      /* per roll: redraw a node's tick period */
    SIM_K_CLIENT,    /* per roll per client: start an operation when idle */
    SIM_K_READ,      /* per client get: use ReadIndex (else the log) */
    SIM_K_MEMBER,    /* per roll: a membership change at the leader */
    SIM_K_SNAPSHOT,  /* per roll: a node snapshots its state machine */
    SIM_K_TRANSFER,  /* per roll: a leadership transfer */
    SIM_K_WIRE,      /* per message: goes through the wire codec */
    SIM_K_ISOLATE,   /* per roll: cut the leader off from everyone */
    SIM_K_COUNT
};

/* Name of a kind ("drop", ...), NULL when out of range. */
const char *sim_kind_name(int kind);
/* One line saying what the rate of a kind is per. */
const char *sim_kind_help(int kind);
/* The kind named name, or -1. */
int sim_kind_find(const char *name);

/* Planted engine bugs (only with -DCRAFT_PLANTED_BUGS builds). */
enum sim_bug {
    SIM_BUG_NONE = 0,
    SIM_BUG_COMMIT_NO_QUORUM = 1,
    SIM_BUG_READ_NO_READINDEX = 2,
    SIM_BUG_VOTE_TWICE = 3,
    SIM_BUG_FOLLOWER_COMMIT = 4,
    SIM_BUG_COMMIT_OLD_TERM = 5,
    SIM_BUG_READ_OLD_ROUND = 6,
    SIM_BUG_LEASE_FROM_ACK = 7,
    SIM_BUG_SNAPSHOT_KEEP = 8,
    SIM_BUG_CONF_NO_ROLLBACK = 9,
    SIM_BUG_SLOW_BACKOFF = 10,
    SIM_BUG_NO_PREVOTE = 11,
    SIM_BUG_COUNT
};

struct sim_options {
    uint32_t nodes;        /* initial voters, 1..9 (default 5) */
    uint64_t steps;        /* engine steps to run (default 200000) */
    uint64_t seed;
    const char *profile;   /* NULL or a name from sim_profile_names */
    uint32_t rate[SIM_K_COUNT]; /* ppm; filled by sim_options_profile */
    uint32_t clients;      /* concurrent clients (default 6) */
    uint32_t keys;         /* keys of the workload (default 12) */
    int randomize;         /* draw engine options from the seed (1) */
    int lease;             /* lease reads: -1 drawn from the seed (default),
                              0 off, 1 on (with check-quorum) */
    int planted_bug;       /* enum sim_bug; needs CRAFT_PLANTED_BUGS */
    uint32_t calm_ticks;   /* a calm phase lasts this long after its
                              liveness probe commits (default 10); the
                              calm checks watch that window */
    uint64_t skip;         /* bit k: check k is not reported (a test shows
                              another check catches the same bug) */
    FILE *trace;           /* NULL, or where the text trace goes */
    FILE *history;         /* NULL, or where the client history goes at
                              the end, in craft-lincheck's format */
    FILE *progress;        /* NULL, or where progress lines go */
    uint64_t progress_every; /* steps between progress lines */
};

/* Fills defaults and the "default" profile. */
void sim_options_init(struct sim_options *o);
/* Sets the rates of a named profile; -1 when the name is unknown. */
int sim_options_profile(struct sim_options *o, const char *name);
/* NULL-terminated list of profile names; sim_profile_help(i) says what
 * profile i is for. */
extern const char *const sim_profile_names[];
const char *sim_profile_help(int i);

/* Invariants and other checks, as reported. */
enum sim_check {
    SIM_V_NONE = 0,
    SIM_V_ELECTION_SAFETY,     /* two leaders in one term */
    SIM_V_DOUBLE_VOTE,         /* a server voted twice in a term */
    SIM_V_LOG_MATCHING,        /* same (index, term), different prefix */
    SIM_V_LEADER_COMPLETENESS, /* a leader lacks a committed entry */
    SIM_V_STATE_MACHINE_SAFETY,/* two different entries applied at an index */
    SIM_V_LEADER_APPEND_ONLY,  /* a leader truncated or overwrote its log */
    SIM_V_COMMIT_DECREASED,    /* a commit index went down */
    SIM_V_COMMIT_NO_QUORUM,    /* committed what no quorum durably stores */
    SIM_V_PERSIST_BEFORE_SEND, /* a message overtook the write it needs */
    SIM_V_CONFIG_CHANGE,       /* two uncommitted configuration changes */
    SIM_V_CONTRACT,            /* the engine broke its action contract */
    SIM_V_RESTART,             /* durable state the engine cannot load */
    SIM_V_SNAPSHOT,            /* a snapshot that is not the committed state */
    SIM_V_RECEIPT,             /* a proposal receipt names another entry */
    SIM_V_LIVENESS,            /* no progress within the bound after heal */
    SIM_V_LINEARIZABILITY,     /* the client history is not linearizable */
    SIM_V_COMMIT_OWN_TERM,     /* a leader committed an older term's entry
                                  by counting replicas (Figure 8) */
    SIM_V_FOLLOWER_COMMIT,     /* a follower committed past what the
                                  append showed to match */
    SIM_V_MEMBERSHIP,          /* the configuration in force is not the
                                  log's latest */
    SIM_V_SNAPSHOT_SUFFIX,     /* an install kept a log suffix whose entry
                                  at the snapshot index had another term */
    SIM_V_CALM_TERM,           /* a term rose in a calm phase (pre-vote) */
    SIM_V_CATCHUP,             /* a follower needed more round trips to
                                  catch up than the logs' terms explain */
    SIM_V_READ_ROUND,          /* a read answered without a quorum's
                                  acknowledgement of a heartbeat sent after
                                  it arrived (or, lease, within the lease) */
    SIM_V_COUNT
};

const char *sim_check_name(int check);

struct sim_result {
    uint64_t seed;
    uint64_t steps;
    uint64_t ticks;          /* base ticks of simulated time */
    double seconds;          /* wall clock of the stepping */
    double check_seconds;    /* wall clock of the linearizability check */
    uint64_t trace_hash;
    uint64_t elections;      /* times a node became leader */
    uint64_t commits;        /* entries committed (cluster-wide) */
    uint64_t faults[SIM_K_COUNT];
    uint64_t ops_ok, ops_failed, ops_unknown; /* client operations */
    uint64_t reads_index;    /* gets served by ReadIndex */
    uint64_t snapshots_installed;
    uint64_t member_changes; /* configuration entries committed */
    uint64_t transfers_ok;
    uint64_t calm_phases;    /* liveness checks passed */
    uint64_t lin_keys, lin_inconclusive;
    uint64_t unsupported;    /* bit k: event kind k refused (CRAFT_EINVAL) */
    uint64_t violations;     /* 0 or 1: the run stops at the first */
    int check;               /* enum sim_check of the violation */
    uint64_t violation_step;
    char message[1024];      /* what was violated, in words */
};

/* Runs one simulation. Returns 0 when every check held, 1 on a
 * violation (described in *r), -1 on a bad option or out of memory
 * (message in r->message). */
int sim_run(const struct sim_options *o, struct sim_result *r);

/*
 * The same in pieces, for tests that look inside a run (sim/world.h):
 * sim_create sets the world up (0, or -1 with r->message); sim_advance
 * runs until r->steps reaches steps; sim_finish runs the final calm
 * phase and checks the history. Both return 0 while all is well, 1 on a
 * violation, 2 once the run is over, -1 on a fatal error. *r is updated
 * as the run goes and must outlive the simulation.
 */
struct sim;
int sim_create(const struct sim_options *o, struct sim_result *r,
               struct sim **out);
int sim_advance(struct sim *s, uint64_t steps);
int sim_finish(struct sim *s);
void sim_destroy(struct sim *s);

/*
 * Replay specs: every option of a run in one word,
 * "nodes=5,steps=200000,seed=0x2a,profile=default,clients=6,keys=12"
 * followed by the rates that differ from the profile ("drop=20000ppm").
 * craft-sim --replay SPEC runs exactly that run again.
 */
void sim_replay_spec(const struct sim_options *o, char *buf, size_t len);
/* Applies a spec (or a single key=value) to *o; -1 on a bad one. Rates
 * may be written 0.02, 2% or 20000ppm. */
int sim_replay_parse(struct sim_options *o, const char *spec);
int sim_options_set(struct sim_options *o, const char *key,
                    const char *value);

/* Prints what a failed run violated, its seed and the command (argv0
 * --replay SPEC) that replays it. */
void sim_report_violation(FILE *f, const char *argv0,
                          const struct sim_options *o,
                          const struct sim_result *r);

#endif /* CRAFT_SIM_SIM_H */
