/*
 * sim/config.c: chaos kinds, profiles, options and the replay spec.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/rng.h"
#include "sim/sim.h"

static const struct {
    const char *name;
    const char *help;
} kinds[SIM_K_COUNT] = {
    [SIM_K_DROP] = {"drop", "per message: the message is lost"},
    [SIM_K_DUP] = {"dup", "per message: delivered twice"},
    [SIM_K_DELAY] = {"delay",
                     "per message: held back up to two election timeouts"},
    [SIM_K_REORDER] = {"reorder",
                       "per message: latency redrawn up to 10x (overtakes)"},
    [SIM_K_PARTITION] = {"partition",
                         "per tick: split the nodes in two sides"},
    [SIM_K_ASYM] = {"asym", "per tick: cut one direction of one link"},
    [SIM_K_HEAL] = {"heal", "per tick: remove every cut"},
    [SIM_K_CRASH] = {"crash",
                     "per tick: crash a node, losing unsynced writes"},
    [SIM_K_TORN] = {"torn", "per crash: the write in progress is torn"},
    [SIM_K_SLOWDISK] = {"slowdisk",
                        "per tick: a node's disk is 10x slower a while"},
    [SIM_K_SLOWAPPLY] = {"slowapply",
                         "per tick: a node's state machine lags a while"},
    [SIM_K_SKEW] = {"skew", "per tick: redraw a node's tick period"},
    [SIM_K_CLIENT] = {"client",
                      "client think time: an op within 1/rate ticks"},
    [SIM_K_READ] = {"read", "per get: ReadIndex instead of the log"},
    [SIM_K_MEMBER] = {"member",
                      "per tick: add/promote/remove a server at the leader"},
    [SIM_K_SNAPSHOT] = {"snapshot",
                        "per tick: a node snapshots (+ small engine "
                        "snapshot thresholds)"},
    [SIM_K_TRANSFER] = {"transfer", "per tick: a leadership transfer"},
    [SIM_K_WIRE] = {"wire", "per message: through the wire codec"},
    [SIM_K_ISOLATE] = {"isolate",
                       "per tick: cut the leader off from everyone"},
};

const char *sim_kind_name(int kind)
{
    return kind >= 0 && kind < SIM_K_COUNT ? kinds[kind].name : NULL;
}

const char *sim_kind_help(int kind)
{
    return kind >= 0 && kind < SIM_K_COUNT ? kinds[kind].help : NULL;
}

int sim_kind_find(const char *name)
{
    for (int k = 0; k < SIM_K_COUNT; k++) {
        if (strcmp(kinds[k].name, name) == 0) {
            return k;
        }
    }
    return -1;
}

/* Rates in ppm, in enum sim_kind order. */
struct profile {
    const char *name;
    const char *help;
    uint32_t rate[SIM_K_COUNT];
};

/*          drop   dup  delay reorder part  asym  heal  crash  torn
 *          sdisk sapply skew client  read member snap  xfer  wire isolate */
static const struct profile profiles[] = {
    {"default", "every kind of fault at a moderate rate",
     {20000, 10000, 5000, 20000, 8000, 5000, 30000, 6000, 500000,
      5000, 5000, 5000, 1000000, 500000, 4000, 10000, 3000, 30000, 0}},
    {"calm", "no faults: the workload alone",
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000000, 500000, 0, 0, 0, 30000,
      0}},
    {"net", "network faults only: loss, duplication, delay, partitions",
     {50000, 20000, 10000, 50000, 15000, 10000, 30000, 0, 0, 0, 0, 0,
      1000000, 500000, 0, 0, 0, 30000, 0}},
    {"crash", "crashes, torn writes, slow disks, slow state machines",
     {10000, 0, 0, 10000, 0, 0, 0, 20000, 700000, 20000, 10000, 5000,
      1000000, 500000, 0, 0, 0, 30000, 0}},
    {"member", "membership changes and leadership transfers",
     {10000, 5000, 0, 10000, 3000, 0, 30000, 3000, 500000, 0, 0, 0, 1000000,
      500000, 20000, 10000, 10000, 30000, 0}},
    {"snapshot", "snapshots and catch-up after partitions and crashes",
     {10000, 5000, 0, 10000, 10000, 0, 20000, 8000, 500000, 5000, 5000, 0,
      1000000, 500000, 0, 50000, 0, 30000, 0}},
    {"heavy", "every kind of fault, three times the default",
     {60000, 30000, 15000, 60000, 24000, 15000, 60000, 18000, 700000,
      15000, 15000, 15000, 1000000, 500000, 12000, 30000, 9000, 30000, 0}},
    /* Raft paper Figure 8: leaders cut off (or crashing) right after they
     * replicated to a minority, new leaders elected without those
     * entries, old ones coming back to finish replicating them; lossy
     * links so that an append carries an old entry without the new
     * leader's no-op behind it. Half the ticks isolate the leader, a
     * tenth heal: with the own-term commit rule broken (planted bug 5)
     * and its invariant skipped, about half the 3-node seeds end with a
     * committed entry overwritten (leader completeness). */
    {"figure8", "leaders cut off mid-replication and back (Figure 8)",
     {300000, 0, 20000, 50000, 0, 0, 100000, 15000, 300000, 0, 0, 0,
      1000000, 0, 0, 0, 0, 30000, 500000}},
};

#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

const char *const sim_profile_names[] = {
    "default", "calm",  "net",     "crash", "member",
    "snapshot", "heavy", "figure8", NULL};

const char *sim_profile_help(int i)
{
    return i >= 0 && (size_t)i < NPROFILES ? profiles[i].help : NULL;
}

static const struct profile *find_profile(const char *name)
{
    for (size_t i = 0; i < NPROFILES; i++) {
        if (strcmp(profiles[i].name, name) == 0) {
            return &profiles[i];
        }
    }
    return NULL;
}

int sim_options_profile(struct sim_options *o, const char *name)
{
    const struct profile *p = find_profile(name);
    if (p == NULL) {
        return -1;
    }
    o->profile = p->name;
    memcpy(o->rate, p->rate, sizeof(o->rate));
    return 0;
}

void sim_options_init(struct sim_options *o)
{
    memset(o, 0, sizeof(*o));
    o->nodes = 5;
    o->steps = 200000;
    o->seed = 1;
    o->clients = 6;
    o->keys = 12;
    o->randomize = 1;
    o->lease = -1;
    o->progress_every = 0;
    o->calm_ticks = 10;
    sim_options_profile(o, "default");
}

const char *sim_check_name(int check)
{
    static const char *const names[SIM_V_COUNT] = {
        [SIM_V_NONE] = "none",
        [SIM_V_ELECTION_SAFETY] = "election safety",
        [SIM_V_DOUBLE_VOTE] = "one vote per term",
        [SIM_V_LOG_MATCHING] = "log matching",
        [SIM_V_LEADER_COMPLETENESS] = "leader completeness",
        [SIM_V_STATE_MACHINE_SAFETY] = "state machine safety",
        [SIM_V_LEADER_APPEND_ONLY] = "leader append-only",
        [SIM_V_COMMIT_DECREASED] = "commit index never decreases",
        [SIM_V_COMMIT_NO_QUORUM] = "commit only what a quorum stores",
        [SIM_V_PERSIST_BEFORE_SEND] = "persist before send",
        [SIM_V_CONFIG_CHANGE] = "one uncommitted configuration change",
        [SIM_V_CONTRACT] = "engine action contract",
        [SIM_V_RESTART] = "restart from durable state",
        [SIM_V_SNAPSHOT] = "snapshot is the committed state",
        [SIM_V_RECEIPT] = "proposal receipts",
        [SIM_V_LIVENESS] = "liveness after heal",
        [SIM_V_LINEARIZABILITY] = "linearizability",
        [SIM_V_COMMIT_OWN_TERM] = "a leader commits by counting only its "
                                  "own term's entries",
        [SIM_V_FOLLOWER_COMMIT] = "a follower commits at most the last new "
                                  "entry",
        [SIM_V_MEMBERSHIP] = "the latest configuration is in force",
        [SIM_V_SNAPSHOT_SUFFIX] = "an install keeps only a matching suffix",
        [SIM_V_CALM_TERM] = "no term rises in a calm phase",
        [SIM_V_CATCHUP] = "catch-up in bounded round trips",
        [SIM_V_READ_ROUND] = "reads confirmed by a round sent after them",
    };
    return check >= 0 && check < SIM_V_COUNT ? names[check] : "?";
}

/* ---- replay specs: "key=value,key=value" ------------------------------ */

/* Parses "0.02", "2%" or "20000ppm" into ppm. -1 on error. */
static int parse_rate(const char *v, uint32_t *ppm)
{
    char *end;
    size_t len = strlen(v);
    if (len > 3 && strcmp(v + len - 3, "ppm") == 0) {
        unsigned long x = strtoul(v, &end, 10);
        if (end != v + len - 3 || x > SIM_PPM) {
            return -1;
        }
        *ppm = (uint32_t)x;
        return 0;
    }
    double d = strtod(v, &end);
    if (end == v) {
        return -1;
    }
    if (*end == '%') {
        d /= 100.0;
        end++;
    }
    if (*end != 0 || d < 0 || d > 1) {
        return -1;
    }
    *ppm = (uint32_t)(d * SIM_PPM + 0.5);
    return 0;
}

static int parse_u64(const char *v, uint64_t *out)
{
    char *end;
    if (*v == 0 || *v == '-') {
        return -1;
    }
    unsigned long long x = strtoull(v, &end, 0);
    if (*end != 0) {
        return -1;
    }
    *out = x;
    return 0;
}

int sim_options_set(struct sim_options *o, const char *key, const char *v)
{
    uint64_t x;
    int k = sim_kind_find(key);
    if (k >= 0) {
        return parse_rate(v, &o->rate[k]);
    }
    if (strcmp(key, "profile") == 0) {
        return sim_options_profile(o, v);
    }
    if (strcmp(key, "lease") == 0) {
        if (strcmp(v, "-1") == 0) {
            o->lease = -1;
            return 0;
        }
        if (parse_u64(v, &x) != 0 || x > 1) {
            return -1;
        }
        o->lease = (int)x;
        return 0;
    }
    if (strcmp(key, "randomize") == 0) {
        if (parse_u64(v, &x) != 0 || x > 1) {
            return -1;
        }
        o->randomize = (int)x;
        return 0;
    }
    if (parse_u64(v, &x) != 0) {
        return -1;
    }
    if (strcmp(key, "nodes") == 0 || strcmp(key, "n") == 0) {
        if (x < 1 || x > SIM_MAX_NODES) {
            return -1;
        }
        o->nodes = (uint32_t)x;
    } else if (strcmp(key, "steps") == 0) {
        o->steps = x;
    } else if (strcmp(key, "seed") == 0) {
        o->seed = x;
    } else if (strcmp(key, "clients") == 0) {
        if (x > 32) {
            return -1;
        }
        o->clients = (uint32_t)x;
    } else if (strcmp(key, "keys") == 0) {
        if (x < 1 || x > 64) {
            return -1;
        }
        o->keys = (uint32_t)x;
    } else if (strcmp(key, "bug") == 0) {
        if (x >= SIM_BUG_COUNT) {
            return -1;
        }
        o->planted_bug = (int)x;
    } else if (strcmp(key, "calm") == 0) {
        if (x < 1 || x > 100000) {
            return -1;
        }
        o->calm_ticks = (uint32_t)x;
    } else if (strcmp(key, "skip") == 0) {
        o->skip = x;
    } else {
        return -1;
    }
    return 0;
}

int sim_replay_parse(struct sim_options *o, const char *spec)
{
    char buf[1024];
    if (strlen(spec) >= sizeof(buf)) {
        return -1;
    }
    strcpy(buf, spec);
    /* The profile first: it resets the rates the rest may override. */
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq != NULL && strncmp(tok, "profile=", 8) == 0 &&
            sim_options_profile(o, eq + 1) != 0) {
            return -1;
        }
    }
    strcpy(buf, spec);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            return -1;
        }
        *eq = 0;
        if (strcmp(tok, "profile") != 0 &&
            sim_options_set(o, tok, eq + 1) != 0) {
            return -1;
        }
    }
    return 0;
}

void sim_replay_spec(const struct sim_options *o, char *buf, size_t len)
{
    const char *profile = o->profile != NULL ? o->profile : "default";
    const struct profile *p = find_profile(profile);
    int w = snprintf(buf, len,
                     "nodes=%u,steps=%" PRIu64 ",seed=0x%" PRIx64
                     ",profile=%s,clients=%u,keys=%u",
                     o->nodes, o->steps, o->seed, profile, o->clients,
                     o->keys);
    size_t off = w > 0 ? (size_t)w : 0;
    for (int k = 0; k < SIM_K_COUNT && off < len; k++) {
        if (p == NULL || o->rate[k] != p->rate[k]) {
            w = snprintf(buf + off, len - off, ",%s=%" PRIu32 "ppm",
                         kinds[k].name, o->rate[k]);
            off += w > 0 ? (size_t)w : 0;
        }
    }
    if (o->lease != -1 && off < len) {
        w = snprintf(buf + off, len - off, ",lease=%d", o->lease);
        off += w > 0 ? (size_t)w : 0;
    }
    if (!o->randomize && off < len) {
        w = snprintf(buf + off, len - off, ",randomize=0");
        off += w > 0 ? (size_t)w : 0;
    }
    if (o->calm_ticks != 10 && off < len) {
        w = snprintf(buf + off, len - off, ",calm=%" PRIu32, o->calm_ticks);
        off += w > 0 ? (size_t)w : 0;
    }
    if (o->skip != 0 && off < len) {
        w = snprintf(buf + off, len - off, ",skip=0x%" PRIx64, o->skip);
        off += w > 0 ? (size_t)w : 0;
    }
    if (o->planted_bug != 0 && off < len) {
        snprintf(buf + off, len - off, ",bug=%d", o->planted_bug);
    }
}
