/*
 * craft-sim: runs the deterministic simulator (src/sim) over one or many
 * seeds, prints what happened and, on a violation, the seed and the exact
 * command that replays it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/hash.h"
#include "sim/sim.h"

static void usage(FILE *f)
{
    fputs(
        "usage: craft-sim [options]\n"
        "  --nodes N        initial voters, 1..9 (default 5)\n"
        "  --steps N        engine steps per seed (default 200000)\n"
        "  --seed S         the (first) seed, decimal or 0x... (default 1)\n"
        "  --seeds K        run K seeds: S, S+1, ... (default 1)\n"
        "  --profile NAME   fault profile (default 'default'; see --list)\n"
        "  --replay SPEC    run exactly the run SPEC describes (printed on\n"
        "                   failure: nodes=5,steps=...,seed=0x...,...)\n"
        "  --trace FILE     write the run's trace as text ('-': stdout)\n"
        "  --history FILE   write the client history (one seed) in\n"
        "                   craft-lincheck's format\n"
        "  --KIND RATE      set a chaos rate: 0.02, 2% or 20000ppm\n"
        "                   (e.g. --drop 0.05, --crash=0; see --list)\n"
        "  --clients N      concurrent clients (default 6)\n"
        "  --keys N         keys of the workload (default 12)\n"
        "  --no-randomize   engine default options instead of drawn ones\n"
        "  --lease 0|1      lease reads off/on (default: drawn per seed)\n"
        "  --shrink         on a violation, search a smaller failing run\n"
        "  --keep-going     run every seed even after a violation\n"
        "  --quiet          no progress lines\n"
        "  --calm N         ticks a calm phase lasts once its probe commits\n"
        "                   (default 10); the calm checks (no term rise\n"
        "                   with pre-vote, catch-up in bounded round trips)\n"
        "                   watch that window\n"
        "  --skip MASK      do not report the checks of bits in MASK\n"
        "  --bug N          plant engine bug N (planted-bug builds only):\n"
        "                   1 commit without quorum, 2 reads without\n"
        "                   ReadIndex, 3 two votes a term, 4 follower takes\n"
        "                   leaderCommit, 5 commit an old term by counting,\n"
        "                   6 read joins an older round, 7 lease from the\n"
        "                   acks, 8 install keeps a stale suffix, 9 no\n"
        "                   membership rollback, 10 one-entry backoff,\n"
        "                   11 no pre-vote\n"
        "  --list           list profiles and chaos kinds\n",
        f);
}

static void list(void)
{
    puts("profiles:");
    for (int i = 0; sim_profile_names[i] != NULL; i++) {
        printf("  %-10s %s\n", sim_profile_names[i], sim_profile_help(i));
    }
    puts("chaos kinds (rates of the default profile):");
    struct sim_options o;
    sim_options_init(&o);
    for (int k = 0; k < SIM_K_COUNT; k++) {
        printf("  --%-10s %8.4f  %s\n", sim_kind_name(k),
               (double)o.rate[k] / 1e6, sim_kind_help(k));
    }
}

struct totals {
    uint64_t runs, steps, ticks, elections, commits, faults[SIM_K_COUNT];
    uint64_t ok, failed, unknown, reads, snaps, members, transfers, calm;
    uint64_t keys, inconclusive, violations, unsupported;
    double seconds, check_seconds;
    uint64_t hash;
};

static void add(struct totals *t, const struct sim_result *r)
{
    t->runs++;
    t->steps += r->steps;
    t->ticks += r->ticks;
    t->elections += r->elections;
    t->commits += r->commits;
    for (int k = 0; k < SIM_K_COUNT; k++) {
        t->faults[k] += r->faults[k];
    }
    t->ok += r->ops_ok;
    t->failed += r->ops_failed;
    t->unknown += r->ops_unknown;
    t->reads += r->reads_index;
    t->snaps += r->snapshots_installed;
    t->members += r->member_changes;
    t->transfers += r->transfers_ok;
    t->calm += r->calm_phases;
    t->keys += r->lin_keys;
    t->inconclusive += r->lin_inconclusive;
    t->violations += r->violations;
    t->unsupported |= r->unsupported;
    t->seconds += r->seconds;
    t->check_seconds += r->check_seconds;
    t->hash = t->runs == 1 ? r->trace_hash : sim_mix(t->hash, r->trace_hash);
}

static void summary(const struct totals *t, const struct sim_options *o,
                    uint64_t first, uint64_t seeds)
{
    printf("craft-sim: %u nodes, profile %s, ", o->nodes,
           o->profile != NULL ? o->profile : "default");
    if (seeds == 1) {
        printf("seed 0x%" PRIx64 "\n", first);
    } else {
        printf("seeds 0x%" PRIx64 "..0x%" PRIx64 " (%" PRIu64 " runs)\n",
               first, first + seeds - 1, t->runs);
    }
    printf("  steps        %" PRIu64 " in %.2f s: %.0f steps/s "
           "(all invariants on)\n",
           t->steps, t->seconds,
           t->seconds > 0 ? (double)t->steps / t->seconds : 0.0);
    printf("  sim time     %" PRIu64 " base ticks\n", t->ticks);
    printf("  elections    %" PRIu64 "\n", t->elections);
    printf("  commits      %" PRIu64 " entries (%" PRIu64
           " configuration changes)\n",
           t->commits, t->members);
    printf("  client ops   %" PRIu64 " completed, %" PRIu64
           " without effect, %" PRIu64 " unknown; %" PRIu64
           " ReadIndex gets\n",
           t->ok, t->failed, t->unknown, t->reads);
    printf("  snapshots    %" PRIu64 " installed from leaders; transfers %"
           PRIu64 " completed\n",
           t->snaps, t->transfers);
    printf("  faults      ");
    for (int k = 0; k < SIM_K_COUNT; k++) {
        if (k == SIM_K_CLIENT || k == SIM_K_READ) {
            continue;
        }
        printf(" %s %" PRIu64, sim_kind_name(k), t->faults[k]);
    }
    printf("\n  liveness     %" PRIu64 " heals, each followed by a commit "
           "within the bound\n",
           t->calm);
    printf("  lincheck     %" PRIu64 " key histories checked (%.2f s), %"
           PRIu64 " inconclusive\n",
           t->keys, t->check_seconds, t->inconclusive);
    if (t->unsupported != 0) {
        printf("  unsupported  engine refused event kinds (mask 0x%" PRIx64
               "): those chaos kinds were skipped\n",
               t->unsupported);
    }
    printf("  violations   %" PRIu64 "\n", t->violations);
    printf("  trace hash   0x%016" PRIx64 "\n", t->hash);
}

/* Greedy shrinking: switch chaos kinds off one at a time, keeping each
 * change that still fails, then cut the steps. */
static void shrink(const char *argv0, struct sim_options o, int check)
{
    struct sim_result r;
    printf("shrinking...\n");
    for (int k = 0; k < SIM_K_COUNT; k++) {
        if (o.rate[k] == 0 || k == SIM_K_CLIENT) {
            continue;
        }
        uint32_t saved = o.rate[k];
        o.rate[k] = 0;
        if (sim_run(&o, &r) == 1 && r.check == check) {
            printf("  without %s: still fails\n", sim_kind_name(k));
        } else {
            o.rate[k] = saved;
        }
    }
    if (sim_run(&o, &r) != 1) {
        return;
    }
    uint64_t lo = 1, hi = o.steps;
    if (r.violation_step < hi && check != SIM_V_LIVENESS &&
        check != SIM_V_LINEARIZABILITY) {
        hi = r.violation_step;
    }
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        struct sim_options t = o;
        t.steps = mid;
        if (sim_run(&t, &r) == 1 && r.check == check) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    o.steps = hi;
    char spec[1024];
    sim_replay_spec(&o, spec, sizeof(spec));
    printf("smallest failing run found: %s --replay '%s'\n", argv0, spec);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    struct sim_options o;
    sim_options_init(&o);
    uint64_t seeds = 1;
    int do_shrink = 0, keep_going = 0, quiet = 0;
    const char *trace_path = NULL;
    const char *history_path = NULL;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            goto bad;
        }
        char *key = arg + 2;
        char *val = strchr(key, '=');
        char keybuf[64];
        if (val != NULL) {
            size_t n = (size_t)(val - key);
            if (n >= sizeof(keybuf)) {
                goto bad;
            }
            memcpy(keybuf, key, n);
            keybuf[n] = 0;
            key = keybuf;
            val++;
        }
        if (strcmp(key, "help") == 0 || strcmp(key, "h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(key, "list") == 0) {
            list();
            return 0;
        }
        if (strcmp(key, "shrink") == 0) {
            do_shrink = 1;
            continue;
        }
        if (strcmp(key, "keep-going") == 0) {
            keep_going = 1;
            continue;
        }
        if (strcmp(key, "quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(key, "no-randomize") == 0) {
            o.randomize = 0;
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                goto bad;
            }
            val = argv[++i];
        }
        if (strcmp(key, "seeds") == 0) {
            char *end;
            seeds = strtoull(val, &end, 0);
            if (*end != 0 || seeds == 0) {
                goto bad;
            }
        } else if (strcmp(key, "trace") == 0) {
            trace_path = val;
        } else if (strcmp(key, "history") == 0) {
            history_path = val;
        } else if (strcmp(key, "replay") == 0) {
            if (sim_replay_parse(&o, val) != 0) {
                fprintf(stderr, "craft-sim: bad replay spec '%s'\n", val);
                return 2;
            }
        } else if (sim_options_set(&o, key, val) != 0) {
            fprintf(stderr, "craft-sim: bad option --%s %s\n", key, val);
            return 2;
        }
    }
    FILE *trace = NULL;
    FILE *history = NULL;
    if (history_path != NULL) {
        if (seeds != 1) {
            fprintf(stderr, "craft-sim: --history needs a single seed\n");
            return 2;
        }
        history = fopen(history_path, "w");
        if (history == NULL) {
            perror(history_path);
            return 2;
        }
        o.history = history;
    }
    if (trace_path != NULL) {
        trace = strcmp(trace_path, "-") == 0 ? stdout : fopen(trace_path, "w");
        if (trace == NULL) {
            perror(trace_path);
            return 2;
        }
    }
    uint64_t first = o.seed;
    struct totals t;
    memset(&t, 0, sizeof(t));
    int failed = 0;
    double t0 = wall(), last = t0;
    o.progress = quiet ? NULL : stderr;
    o.progress_every = o.steps >= 4000000 ? o.steps / 10 : 0;
    for (uint64_t k = 0; k < seeds; k++) {
        o.seed = first + k;
        o.trace = trace;
        struct sim_result r;
        int rv = sim_run(&o, &r);
        if (rv < 0) {
            fprintf(stderr, "craft-sim: seed 0x%" PRIx64 ": %s\n", o.seed,
                    r.message);
            return 2;
        }
        add(&t, &r);
        if (rv == 1) {
            failed = 1;
            sim_report_violation(stdout, argv[0], &o, &r);
            if (do_shrink) {
                shrink(argv[0], o, r.check);
            }
            if (!keep_going) {
                break;
            }
        }
        double now = wall();
        if (!quiet && seeds > 1 && (now - last >= 2.0 || k + 1 == seeds)) {
            last = now;
            fprintf(stderr,
                    "  %" PRIu64 "/%" PRIu64 " seeds, %" PRIu64
                    " steps, %.0f steps/s, %" PRIu64 " violations\n",
                    k + 1, seeds, t.steps,
                    t.seconds > 0 ? (double)t.steps / t.seconds : 0.0,
                    t.violations);
        }
    }
    if (trace != NULL && trace != stdout) {
        fclose(trace);
    }
    if (history != NULL && fclose(history) != 0) {
        perror(history_path);
        return 2;
    }
    o.seed = first;
    summary(&t, &o, first, seeds);
    printf("  wall clock   %.2f s\n", wall() - t0);
    return failed ? 1 : 0;
bad:
    usage(stderr);
    return 2;
}
