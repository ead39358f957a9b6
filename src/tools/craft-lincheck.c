/*
 * craft-lincheck: checks a recorded client history of a key-value store
 * for linearizability, with the simulator's checker (src/sim/lincheck.c).
 *
 *   craft-lincheck [--budget WORDS] [--quiet] FILE|-
 *
 * The history format (version 1), one event per line, in the real-time
 * order the events happened (each line happened after the lines above
 * it); '#' starts a comment, blank lines are ignored:
 *
 *   invoke CLIENT put KEY VALUE      a client starts an operation
 *   invoke CLIENT get KEY
 *   invoke CLIENT cas KEY OLD NEW    compare-and-set
 *   invoke CLIENT incr KEY DELTA     add DELTA, return the new value
 *   ok CLIENT [RESULT]               its operation completed: get gives
 *                                    the value (nil: none), cas 1 or 0
 *                                    (true/false), incr the new value,
 *                                    put nothing
 *   fail CLIENT                      it certainly had no effect
 *   info CLIENT                      its outcome is unknown: it may take
 *                                    effect at any time after its
 *                                    invocation, or never
 *
 * CLIENT and KEY are words without blanks (any names); VALUE, OLD, NEW,
 * DELTA and results are unsigned 64-bit integers (decimal). Every key
 * starts at 0, and nil reads as 0 (so a store with "no value" for a key
 * writes no 0 values). A client has at most one operation in flight:
 * `invoke` while one is in flight, or ok/fail/info with none, is an
 * error. Operations still in flight at the end are taken as info. These
 * are the outcomes of Jepsen's histories (:invoke, :ok, :fail, :info).
 *
 * The model is one register per key with put, get, compare-and-set and
 * increment; the history is linearizable iff every key's is
 * (P-compositionality).
 *
 * Exit status: 0 linearizable, 1 not (the offending key and operations
 * are printed), 2 bad usage or input (the line is named), 3 inconclusive
 * (the search of some key hit the memory budget; nothing was found).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/history.h"
#include "sim/kv.h"
#include "sim/lincheck.h"

#define DEFAULT_BUDGET (64u * 1024u * 1024u) /* words per segment */
#define MAX_NAME 256

/* Distinct words (clients, keys), numbered in order of appearance, with
 * a hash index: histories have many clients. */
struct names {
    char **v;
    uint64_t *op; /* clients: the op in flight, 0 none */
    size_t n, cap;
    size_t *slot; /* open addressing: word number + 1, 0 empty */
    size_t nslots;
};

static uint64_t word_hash(const char *w)
{
    uint64_t h = 1469598103934665603ull;
    for (; *w != '\0'; w++) {
        h = (h ^ (unsigned char)*w) * 1099511628211ull;
    }
    return h;
}

static int rehash(struct names *s, size_t nslots)
{
    size_t *slot = calloc(nslots, sizeof(*slot));
    if (slot == NULL) {
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) {
        size_t k = (size_t)(word_hash(s->v[i]) % nslots);
        while (slot[k] != 0) {
            k = (k + 1) % nslots;
        }
        slot[k] = i + 1;
    }
    free(s->slot);
    s->slot = slot;
    s->nslots = nslots;
    return 0;
}

/* The number of w, or -1 (with add: added, -1 only without memory). */
static int lookup(struct names *s, const char *w, int add, size_t *at)
{
    if (s->nslots > 0) {
        size_t k = (size_t)(word_hash(w) % s->nslots);
        while (s->slot[k] != 0) {
            if (strcmp(s->v[s->slot[k] - 1], w) == 0) {
                *at = s->slot[k] - 1;
                return 0;
            }
            k = (k + 1) % s->nslots;
        }
    }
    if (!add) {
        return -1;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL) {
            return -1;
        }
        s->v = v;
        uint64_t *op = realloc(s->op, cap * sizeof(*op));
        if (op == NULL) {
            return -1;
        }
        s->op = op;
        s->cap = cap;
    }
    if ((s->n + 1) * 2 > s->nslots && rehash(s, s->cap * 4) != 0) {
        return -1;
    }
    s->v[s->n] = strdup(w);
    if (s->v[s->n] == NULL) {
        return -1;
    }
    s->op[s->n] = 0;
    size_t k = (size_t)(word_hash(w) % s->nslots);
    while (s->slot[k] != 0) {
        k = (k + 1) % s->nslots;
    }
    s->slot[k] = s->n + 1;
    *at = s->n++;
    return 0;
}

static void names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i]);
    }
    free(s->v);
    free(s->op);
    free(s->slot);
}

static int parse_u64(const char *w, uint64_t *out)
{
    char *end;
    if (w == NULL || *w == '\0' || *w == '-' || *w == '+') {
        return -1;
    }
    errno = 0;
    unsigned long long x = strtoull(w, &end, 10);
    if (*end != '\0' || errno != 0) {
        return -1;
    }
    *out = x;
    return 0;
}

/* A result word: an integer, nil (0), true (1), false (0). */
static int parse_result(const char *w, uint64_t *out)
{
    if (strcmp(w, "nil") == 0 || strcmp(w, "false") == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(w, "true") == 0) {
        *out = 1;
        return 0;
    }
    return parse_u64(w, out);
}

struct reader {
    const char *path;
    unsigned long line;
    struct sim_history h;
    struct names clients, keys;
};

static int bad(const struct reader *r, const char *what)
{
    fprintf(stderr, "craft-lincheck: %s:%lu: %s\n", r->path, r->line, what);
    return -1;
}

/* Splits s into at most max blank-separated words. */
static size_t words(char *s, char **w, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(s, " \t\r\n", &save);
         t != NULL; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max) {
            return max + 1;
        }
        w[n++] = t;
    }
    return n;
}

static int on_invoke(struct reader *r, char **w, size_t n)
{
    static const struct {
        const char *name;
        uint32_t type;
        size_t args;
    } ops[] = {{"put", SIM_CMD_PUT, 1},
               {"get", SIM_CMD_GET, 0},
               {"cas", SIM_CMD_CAS, 2},
               {"incr", SIM_CMD_INCR, 1}};
    if (n < 4) {
        return bad(r, "invoke needs a client, an operation and a key");
    }
    size_t k;
    for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        if (strcmp(w[2], ops[k].name) == 0) {
            break;
        }
    }
    if (k == sizeof(ops) / sizeof(ops[0])) {
        return bad(r, "unknown operation (put, get, cas, incr)");
    }
    if (n != 4 + ops[k].args) {
        return bad(r, "wrong number of arguments for the operation");
    }
    uint64_t a = 0, b = 0;
    if ((ops[k].args >= 1 && parse_u64(w[4], &a) != 0) ||
        (ops[k].args >= 2 && parse_u64(w[5], &b) != 0)) {
        return bad(r, "an argument is not an unsigned 64-bit integer");
    }
    size_t c, key;
    if (strlen(w[1]) > MAX_NAME || strlen(w[3]) > MAX_NAME) {
        return bad(r, "a client or key name is too long");
    }
    if (lookup(&r->clients, w[1], 1, &c) != 0 ||
        lookup(&r->keys, w[3], 1, &key) != 0) {
        return bad(r, "out of memory");
    }
    if (r->clients.op[c] != 0) {
        return bad(r, "the client already has an operation in flight");
    }
    if (key > UINT32_MAX || c > UINT32_MAX) {
        return bad(r, "too many keys or clients");
    }
    uint64_t id = sim_history_invoke(&r->h, ops[k].type, (uint32_t)key, a,
                                     b, (uint32_t)c);
    if (id == 0) {
        return bad(r, "out of memory");
    }
    sim_history_op(&r->h, id)->path = SIM_PATH_OTHER;
    r->clients.op[c] = id;
    return 0;
}

static int on_outcome(struct reader *r, char **w, size_t n)
{
    if (n < 2) {
        return bad(r, "an outcome needs a client");
    }
    size_t c;
    if (lookup(&r->clients, w[1], 0, &c) != 0 || r->clients.op[c] == 0) {
        return bad(r, "the client has no operation in flight");
    }
    uint64_t id = r->clients.op[c];
    const struct sim_hop *op = sim_history_op(&r->h, id);
    if (strcmp(w[0], "ok") == 0) {
        uint64_t out = 0;
        int wants = op->type != SIM_CMD_PUT;
        if (n != (size_t)(2 + wants) ||
            (wants && parse_result(w[2], &out) != 0)) {
            return bad(r, wants ? "ok needs the result: an unsigned integer, "
                                  "nil, true or false"
                                : "ok of a put takes no result");
        }
        if (op->type == SIM_CMD_CAS && out > 1) {
            return bad(r, "the result of a cas is 1 or 0");
        }
        sim_history_complete(&r->h, id, out);
    } else if (n != 2) {
        return bad(r, "fail and info take only the client");
    } else if (strcmp(w[0], "fail") == 0) {
        sim_history_fail(&r->h, id);
    }
    /* info: stays pending, for ever */
    r->clients.op[c] = 0;
    return 0;
}

static int read_history(struct reader *r, FILE *f)
{
    char buf[4096];
    while (fgets(buf, sizeof(buf), f) != NULL) {
        r->line++;
        size_t len = strlen(buf);
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n') {
            return bad(r, "line too long");
        }
        char *hash = strchr(buf, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        char *w[8];
        size_t n = words(buf, w, 7);
        if (n == 0) {
            continue;
        }
        if (n > 7) {
            return bad(r, "too many words");
        }
        int rv;
        if (strcmp(w[0], "invoke") == 0) {
            rv = on_invoke(r, w, n);
        } else if (strcmp(w[0], "ok") == 0 || strcmp(w[0], "fail") == 0 ||
                   strcmp(w[0], "info") == 0) {
            rv = on_outcome(r, w, n);
        } else {
            rv = bad(r, "unknown event (invoke, ok, fail, info)");
        }
        if (rv != 0) {
            return rv;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "craft-lincheck: %s: read error\n", r->path);
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: craft-lincheck [--budget WORDS] [--quiet] FILE|-\n"
          "  checks a key-value history (invoke/ok/fail/info lines, see\n"
          "  src/tools/craft-lincheck.c) for linearizability.\n"
          "  exit 0 linearizable, 1 not, 2 bad input, 3 inconclusive\n",
          f);
}

int main(int argc, char **argv)
{
    uint64_t budget = DEFAULT_BUDGET;
    int quiet = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
            if (parse_u64(argv[++i], &budget) != 0 || budget == 0) {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (path == NULL &&
                   (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            path = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    struct reader r;
    memset(&r, 0, sizeof(r));
    r.path = path;
    sim_history_init(&r.h);
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "craft-lincheck: %s: %s\n", path, strerror(errno));
        return 2;
    }
    int rv = read_history(&r, f);
    if (f != stdin) {
        fclose(f);
    }
    int status = 2;
    if (rv == 0) {
        struct sim_lin *lin = malloc(sizeof(*lin));
        int ok = lin != NULL
                     ? sim_lincheck(&r.h, (uint32_t)r.keys.n, budget, lin)
                     : -1;
        if (ok < 0) {
            fprintf(stderr, "craft-lincheck: out of memory\n");
        } else if (ok == 0) {
            printf("NOT linearizable: key '%s' (k%u)\n%s\n",
                   r.keys.v[lin->bad_key], lin->bad_key, lin->message);
            status = 1;
        } else {
            status = lin->inconclusive > 0 ? 3 : 0;
            if (!quiet || status != 0) {
                printf("%s: %zu operations, %zu clients, %zu keys, "
                       "%" PRIu64 " segments, %" PRIu64 " states%s\n",
                       status == 0 ? "linearizable" : "inconclusive",
                       r.h.n, r.clients.n, r.keys.n, lin->segments,
                       lin->states,
                       status == 0 ? "" : " (a key's search hit the budget)");
            }
        }
        free(lin);
    }
    sim_history_free(&r.h);
    names_free(&r.clients);
    names_free(&r.keys);
    return status;
}
