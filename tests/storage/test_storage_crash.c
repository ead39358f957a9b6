/*
 * tests/storage/test_storage_crash.c: real crashes. A child process runs
 * a node on the file storage and proposes numbered entries as fast as it
 * can (many in flight, so rounds are group-committed; snapshots and
 * compaction every few hundred entries); each proposal acknowledged to it
 * is reported to the parent through a pipe. The parent kills it with
 * SIGKILL at a random moment, then opens the directory itself, runs a
 * node on it until everything in the log is applied, and checks that
 * every acknowledged entry is there, in order, once. Several rounds on
 * the same directory: each restart recovers from the previous kill.
 *
 * CRAFT_CRASH_ROUNDS=N changes the number of rounds (default 6).
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "storage_test.h"

/* ---- the state machine: the list of numbers applied ------------------- */

struct seqfsm {
    pthread_mutex_t mu;
    uint64_t *v;
    size_t n, cap;
    int bad; /* an entry that is not a number */
};

static void sf_push(struct seqfsm *f, uint64_t x)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 1024;
        f->v = realloc(f->v, f->cap * sizeof(*f->v));
        if (f->v == NULL) {
            abort();
        }
    }
    f->v[f->n++] = x;
}

static int sf_apply(void *user, uint64_t index, uint64_t term,
                    const void *data, size_t len, const void **result,
                    size_t *result_len)
{
    struct seqfsm *f = user;
    uint64_t x;
    (void)index;
    (void)term;
    (void)result;
    (void)result_len;
    pthread_mutex_lock(&f->mu);
    if (len == 8) {
        memcpy(&x, data, 8);
        sf_push(f, x);
    } else {
        f->bad++;
    }
    pthread_mutex_unlock(&f->mu);
    return CRAFT_OK;
}

static int sf_snapshot(void *user, uint64_t index, uint64_t term,
                       craft_snapshot_writer *w)
{
    struct seqfsm *f = user;
    (void)index;
    (void)term;
    pthread_mutex_lock(&f->mu);
    int rv = craft_snapshot_writer_write(w, f->v, f->n * sizeof(*f->v));
    pthread_mutex_unlock(&f->mu);
    return rv;
}

static int sf_restore(void *user, uint64_t index, uint64_t term,
                      craft_snapshot_reader *r)
{
    struct seqfsm *f = user;
    unsigned char buf[4096];
    size_t have = 0, n = 0;
    (void)index;
    (void)term;
    pthread_mutex_lock(&f->mu);
    f->n = 0;
    for (;;) {
        int rv = craft_snapshot_reader_read(r, buf + have, sizeof(buf) - have,
                                            &n);
        if (rv != CRAFT_OK) {
            pthread_mutex_unlock(&f->mu);
            return rv;
        }
        if (n == 0) {
            break;
        }
        have += n;
        size_t k = 0;
        for (; k + 8 <= have; k += 8) {
            uint64_t x;
            memcpy(&x, buf + k, 8);
            sf_push(f, x);
        }
        memmove(buf, buf + k, have - k);
        have -= k;
    }
    pthread_mutex_unlock(&f->mu);
    return have == 0 ? CRAFT_OK : CRAFT_ECORRUPT;
}

/* ---- a node on the directory ------------------------------------------ */

struct runner {
    craft_file_storage *fs;
    craft_hub *hub;
    craft_node *node;
    struct seqfsm fsm;
};

static int runner_start(struct runner *r, const char *dir)
{
    craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_fsm_ops fsm = CRAFT_FSM_OPS_INIT;
    craft_engine_options eo = CRAFT_ENGINE_OPTIONS_INIT;
    craft_node_options o = CRAFT_NODE_OPTIONS_INIT;
    craft_file_storage_options so = CRAFT_FILE_STORAGE_OPTIONS_INIT;
    char err[512] = "";
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->fsm.mu, NULL);
    so.node_id = 1;
    so.segment_bytes = 64 * 1024; /* many segments, many compactions */
    so.errbuf = err;
    so.errbuf_size = sizeof(err);
    int rv = craft_file_storage_open(dir, &so, &r->fs);
    if (rv != CRAFT_OK) {
        fprintf(stderr, "crash test: open: %s\n", err);
        return rv;
    }
    craft_file_storage_ops(r->fs, &st);
    craft_hub_create(NULL, &r->hub);
    craft_hub_transport(r->hub, 1, &tr);
    fsm.user = &r->fsm;
    fsm.apply = sf_apply;
    fsm.snapshot = sf_snapshot;
    fsm.restore = sf_restore;
    eo.snapshot_entries = 700;
    eo.snapshot_trailing = 50;
    o.id = 1;
    o.storage = &st;
    o.transport = &tr;
    o.fsm = &fsm;
    o.engine = &eo;
    o.tick_ms = 5;
    rv = craft_node_create(&o, &r->node);
    if (rv != CRAFT_OK) {
        fprintf(stderr, "crash test: create: %s\n", craft_strerror(rv));
        return rv;
    }
    uint64_t self = 1;
    rv = craft_node_bootstrap(r->node, &self, 1);
    if (rv != CRAFT_OK && rv != CRAFT_ESTATE) {
        return rv; /* ESTATE: a restart */
    }
    craft_hub_attach(r->hub, 1, r->node);
    return craft_node_start(r->node);
}

static void runner_stop(struct runner *r)
{
    if (r->hub != NULL) {
        craft_hub_detach(r->hub, 1);
    }
    craft_node_free(r->node);
    craft_hub_free(r->hub);
    craft_file_storage_close(r->fs);
    free(r->fsm.v);
    pthread_mutex_destroy(&r->fsm.mu);
}

/* ---- the child ----------------------------------------------------------- */

static int ack_fd = -1;
static atomic_int inflight;

struct ack {
    uint64_t seq;
};

static void on_done(void *ctx, const craft_result *res)
{
    struct ack *a = ctx;
    if (craft_result_status(res) == CRAFT_OK) {
        ssize_t n = write(ack_fd, &a->seq, sizeof(a->seq));
        (void)n;
    }
    free(a);
    atomic_fetch_sub(&inflight, 1);
}

static void child(const char *dir, uint64_t next, int fd)
{
    struct runner r;
    ack_fd = fd;
    if (runner_start(&r, dir) != CRAFT_OK) {
        _exit(3);
    }
    for (;;) {
        if (atomic_load(&inflight) >= 128) {
            usleep(200);
            continue;
        }
        struct ack *a = malloc(sizeof(*a));
        a->seq = next;
        atomic_fetch_add(&inflight, 1);
        int rv = craft_node_propose(r.node, &next, 8, 0, on_done, a);
        if (rv != CRAFT_OK) {
            atomic_fetch_sub(&inflight, 1);
            free(a);
            usleep(1000); /* not leader yet, or busy */
            continue;
        }
        next++;
    }
}

/* ---- the parent ------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs a node on dir until it applied its whole log; returns what it
 * applied (in order). */
static void recover_all(const char *dir, struct seqfsm *out)
{
    struct runner r;
    ck_assert_int_eq(runner_start(&r, dir), CRAFT_OK);
    int64_t end = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    end = ts.tv_sec + 30;
    for (;;) {
        craft_status *st = NULL;
        ck_assert_int_eq(craft_node_status(r.node, &st), CRAFT_OK);
        int done = craft_status_role(st) == CRAFT_ROLE_LEADER &&
                   craft_status_applied_index(st) ==
                       craft_status_last_index(st);
        craft_status_free(st);
        if (done) {
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ck_assert_msg(ts.tv_sec < end, "the restarted node did not apply "
                                       "its log");
        usleep(2000);
    }
    craft_node_shutdown(r.node);
    pthread_mutex_lock(&r.fsm.mu);
    out->n = 0;
    for (size_t k = 0; k < r.fsm.n; k++) {
        sf_push(out, r.fsm.v[k]);
    }
    out->bad = r.fsm.bad;
    pthread_mutex_unlock(&r.fsm.mu);
    runner_stop(&r);
}

START_TEST(sigkill_loses_no_acknowledged_entry)
{
    char dir[512];
    const char *env = getenv("CRAFT_CRASH_ROUNDS");
    int rounds = env != NULL && atoi(env) > 0 ? atoi(env) : 6;
    uint64_t next = 1;
    uint64_t total_acked = 0;
    unsigned seed = (unsigned)time(NULL);
    st_tmpdir(dir, sizeof(dir), "crash");
    for (int round = 0; round < rounds; round++) {
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(p[0]);
            child(dir, next, p[1]);
            _exit(0);
        }
        close(p[1]);
        /* let it run 150..650 ms, collecting what it is told (so that it
         * never waits for the pipe), then kill it mid-flight */
        int ms = 150 + (int)(rand_r(&seed) % 500);
        uint64_t *acked = NULL;
        size_t nacked = 0, cap = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int killed = 0;
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            long el = (t1.tv_sec - t0.tv_sec) * 1000 +
                      (t1.tv_nsec - t0.tv_nsec) / 1000000;
            if (!killed && el >= ms) {
                ck_assert_int_eq(kill(pid, SIGKILL), 0);
                killed = 1;
            }
            struct pollfd pf = {p[0], POLLIN, 0};
            int pr = poll(&pf, 1, killed ? 1000 : (int)(ms - el));
            if (pr <= 0) {
                if (killed) {
                    break;
                }
                continue;
            }
            uint64_t buf[512];
            ssize_t n = read(p[0], buf, sizeof(buf));
            if (n <= 0) {
                break; /* EOF: the child is gone */
            }
            ck_assert_int_eq(n % 8, 0);
            for (ssize_t k = 0; k < n / 8; k++) {
                if (nacked == cap) {
                    cap = cap ? cap * 2 : 1024;
                    acked = realloc(acked, cap * sizeof(*acked));
                }
                acked[nacked++] = buf[k];
            }
        }
        close(p[0]);
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "the child ended by itself (status %d)", status);
        /* what the disk has */
        struct seqfsm got;
        memset(&got, 0, sizeof(got));
        recover_all(dir, &got);
        ck_assert_int_eq(got.bad, 0);
        for (size_t k = 1; k < got.n; k++) {
            ck_assert_msg(got.v[k] > got.v[k - 1],
                          "round %d: entry %llu after %llu: out of order or "
                          "twice",
                          round, (unsigned long long)got.v[k],
                          (unsigned long long)got.v[k - 1]);
        }
        if (nacked > 0) { /* a round killed early may ack nothing */
            qsort(acked, nacked, sizeof(*acked), cmp_u64);
        }
        size_t j = 0;
        for (size_t k = 0; k < nacked; k++) {
            while (j < got.n && got.v[j] < acked[k]) {
                j++;
            }
            ck_assert_msg(j < got.n && got.v[j] == acked[k],
                          "round %d: acknowledged entry %llu is lost", round,
                          (unsigned long long)acked[k]);
        }
        fprintf(stderr, "crash round %d: killed after %d ms, %zu acknowledged "
                        "this round, %zu entries on disk\n",
                round, ms, nacked, got.n);
        total_acked += nacked;
        next = got.n > 0 ? got.v[got.n - 1] + 1 : next;
        if (nacked > 0 && acked[nacked - 1] >= next) {
            next = acked[nacked - 1] + 1;
        }
        free(acked);
        free(got.v);
    }
    ck_assert_uint_gt(total_acked, 0);
    st_tmpdir_remove(dir);
}
END_TEST

static Suite *crash_suite(void)
{
    Suite *s = suite_create("storage-crash");
    TCase *tc = tcase_create("sigkill");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sigkill_loses_no_acknowledged_entry);
    suite_add_tcase(s, tc);
    return s;
}

ST_TEST_MAIN(crash_suite)
