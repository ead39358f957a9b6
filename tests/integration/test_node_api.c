/*
 * tests/integration/test_node_api.c: bad input on every entry point of
 * craft/node.h and craft/testing.h (NULL, a wrong struct_size, missing
 * methods, an unknown peer, a call after shutdown, a call from the node's
 * own callback), the init macros against the init functions, an older
 * caller's smaller structs, and the fail-stop on a storage error.
 */
#include <stddef.h>
#include <unistd.h>

#include "node_harness.h"

#define CHECK_INIT_EQUAL(type, macro, fn)                                     \
    do {                                                                      \
        static const type from_macro = macro;                                 \
        type from_fn;                                                         \
        memset(&from_fn, 0xa5, sizeof(from_fn));                              \
        ck_assert_int_eq(fn(&from_fn), CRAFT_OK);                             \
        ck_assert_msg(memcmp(&from_fn, &from_macro, sizeof(type)) == 0,       \
                      #fn " and " #macro " differ");                          \
        ck_assert_uint_eq(from_fn.struct_size, sizeof(type));                 \
        ck_assert_int_eq(fn(NULL), CRAFT_EINVAL);                             \
    } while (0)

START_TEST(init_macros_match_functions)
{
    CHECK_INIT_EQUAL(craft_node_options, CRAFT_NODE_OPTIONS_INIT,
                     craft_node_options_init);
    CHECK_INIT_EQUAL(craft_storage_ops, CRAFT_STORAGE_OPS_INIT,
                     craft_storage_ops_init);
    CHECK_INIT_EQUAL(craft_transport_ops, CRAFT_TRANSPORT_OPS_INIT,
                     craft_transport_ops_init);
    CHECK_INIT_EQUAL(craft_fsm_ops, CRAFT_FSM_OPS_INIT, craft_fsm_ops_init);
    /* The documented defaults. */
    craft_node_options o;
    craft_node_options_init(&o);
    ck_assert_uint_eq(o.tick_ms, 10);
    ck_assert_int_eq(o.trace_level, CRAFT_TRACE_INFO);
    ck_assert_uint_eq(o.request_timeout_ms, 5000);
    ck_assert_uint_eq(o.apply_queue_entries, 8192);
    ck_assert_uint_eq(o.peer_queue_messages, 1024);
    ck_assert_uint_eq(o.max_pending, 65536);
    ck_assert_uint_eq(o.wait_leader, 0);
    ck_assert_uint_eq(o.wait_room, 0);
    ck_assert_uint_eq(o.inline_rounds, 1);
    ck_assert_uint_eq(o.spin_us, 50);
}
END_TEST

/* A node's tables, valid, for tests to break one field at a time. */
struct kit {
    struct tcluster c;
    craft_storage_ops st;
    craft_transport_ops tr;
    craft_fsm_ops fsm;
    craft_node_options o;
    char msg[256]; /* craft_node_create_msg's message of the last create */
};

static void kit_init(struct kit *k)
{
    tc_init(&k->c);
    struct tnode *t = tc_node(&k->c, 1);
    ck_assert_int_eq(craft_mem_storage_create(NULL, &t->ms), CRAFT_OK);
    craft_storage_ops_init(&k->st);
    craft_transport_ops_init(&k->tr);
    craft_fsm_ops_init(&k->fsm);
    ck_assert_int_eq(craft_mem_storage_ops(t->ms, &k->st), CRAFT_OK);
    ck_assert_int_eq(craft_hub_transport(k->c.hub, 1, &k->tr), CRAFT_OK);
    tfsm_ops(&t->fsm, &k->fsm);
    craft_node_options_init(&k->o);
    k->o.id = 1;
    k->o.storage = &k->st;
    k->o.transport = &k->tr;
    k->o.fsm = &k->fsm;
}

static int kit_create(struct kit *k)
{
    craft_node *n = NULL;
    memset(k->msg, 'x', sizeof(k->msg));
    int rv = craft_node_create_msg(&k->o, &n, k->msg, sizeof(k->msg));
    ck_assert_ptr_nonnull(memchr(k->msg, '\0', sizeof(k->msg)));
    if (rv == CRAFT_OK) {
        ck_assert_str_eq(k->msg, ""); /* nothing to say */
        craft_node_free(n);
    } else {
        ck_assert_ptr_null(n); /* untouched on error */
        ck_assert_uint_gt(strlen(k->msg), 0); /* every error says why */
    }
    return rv;
}

START_TEST(create_bad_input)
{
    struct kit k;
    craft_node *n = NULL;
    kit_init(&k);
    ck_assert_int_eq(kit_create(&k), CRAFT_OK);
    ck_assert_int_eq(craft_node_create(NULL, &n), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_create(&k.o, NULL), CRAFT_EINVAL);

    /* struct_size: zero, too large, too small to hold what is required */
    uint32_t good = k.o.struct_size;
    k.o.struct_size = 0;
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    k.o.struct_size = good + 8;
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    k.o.struct_size = (uint32_t)offsetof(craft_node_options, fsm);
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    /* an older caller's smaller struct: the rest are defaults */
    k.o.apply_queue_entries = 0; /* invalid, but past the size */
    k.o.struct_size = (uint32_t)offsetof(craft_node_options, engine);
    ck_assert_int_eq(kit_create(&k), CRAFT_OK);
    k.o.apply_queue_entries = 16;
    k.o.struct_size = good;

    k.o.id = 0;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    ck_assert_str_eq(k.msg, "options.id is 0 (CRAFT_NONE)");
    k.o.id = 1;
    k.o.tick_ms = 0;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    ck_assert_str_eq(k.msg, "options.tick_ms is 0");
    k.o.tick_ms = 10;
    k.o.apply_queue_entries = 0;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    k.o.apply_queue_entries = 16;
    k.o.max_pending = 0;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    k.o.max_pending = 16;

    /* the tables */
    k.o.storage = NULL;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    k.o.storage = &k.st;
    k.o.transport = NULL;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    k.o.transport = &k.tr;
    k.o.fsm = NULL;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    k.o.fsm = &k.fsm;
    k.st.struct_size = 0;
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    k.st.struct_size = sizeof(k.st) + 1;
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    k.st.struct_size = sizeof(k.st);
    k.tr.struct_size = 4;
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    k.tr.struct_size = sizeof(k.tr);
    k.fsm.struct_size = 1000;
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    k.fsm.struct_size = sizeof(k.fsm);
    /* required methods */
    k.st.append = NULL;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    ck_assert_str_eq(k.msg, "storage->append is NULL (required)");
    craft_mem_storage_ops(tc_node(&k.c, 1)->ms, &k.st);
    k.st.sync = NULL; /* optional */
    ck_assert_int_eq(kit_create(&k), CRAFT_OK);
    craft_mem_storage_ops(tc_node(&k.c, 1)->ms, &k.st);
    k.tr.send = NULL;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    craft_hub_transport(k.c.hub, 1, &k.tr);
    k.fsm.apply = NULL;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    k.fsm.apply = tfsm_apply;
    k.fsm.restore = NULL; /* snapshot without restore */
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    k.fsm.snapshot = NULL; /* neither: fine */
    ck_assert_int_eq(kit_create(&k), CRAFT_OK);
    k.fsm.snapshot = tfsm_snapshot;
    k.fsm.restore = tfsm_restore;

    /* engine options and allocator */
    craft_engine_options eo = CRAFT_ENGINE_OPTIONS_INIT;
    k.o.engine = &eo;
    ck_assert_int_eq(kit_create(&k), CRAFT_OK);
    eo.struct_size = 0;
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    eo.struct_size = sizeof(eo);
    eo.heartbeat_ticks = eo.election_ticks; /* the engine refuses */
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    ck_assert_ptr_nonnull(strstr(k.msg, "options.engine rejected"));
    k.o.engine = NULL;
    craft_allocator al = CRAFT_ALLOCATOR_INIT;
    k.o.allocator = &al; /* no functions */
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    al.struct_size = 0;
    ck_assert_int_eq(kit_create(&k), CRAFT_ESTRUCT);
    k.o.allocator = NULL;
    tc_free(&k.c);
}
END_TEST

static int load_fails(void *user, craft_loader *ld)
{
    (void)user;
    (void)ld;
    return CRAFT_ECORRUPT;
}

static int load_positive(void *user, craft_loader *ld)
{
    (void)user;
    (void)ld;
    return 7;
}

static int load_garbage(void *user, craft_loader *ld)
{
    (void)user;
    ck_assert_int_eq(craft_loader_hard_state(NULL, 1, 0), CRAFT_EINVAL);
    ck_assert_int_eq(craft_loader_snapshot(NULL, 1, 1, "x", 1), CRAFT_EINVAL);
    ck_assert_int_eq(craft_loader_entry(NULL, 1, 1, 1, NULL, 0),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_loader_hard_state(ld, 2, 0), CRAFT_OK);
    /* a gap in the log */
    return craft_loader_entry(ld, 5, 1, CRAFT_ENTRY_NORMAL, NULL, 0);
}

START_TEST(load_errors)
{
    struct kit k;
    kit_init(&k);
    k.st.load = load_fails;
    ck_assert_int_eq(kit_create(&k), CRAFT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(k.msg, "storage->load returned"));
    /* a message cut to the buffer, and no buffer at all */
    char small[8];
    craft_node *n = NULL;
    ck_assert_int_eq(craft_node_create_msg(&k.o, &n, small, sizeof(small)),
                     CRAFT_ECORRUPT);
    ck_assert_str_eq(small, "storage");
    ck_assert_int_eq(craft_node_create_msg(&k.o, &n, NULL, 100),
                     CRAFT_ECORRUPT);
    ck_assert_int_eq(craft_node_create_msg(NULL, &n, small, sizeof(small)),
                     CRAFT_EINVAL);
    ck_assert_str_eq(small, "opts is");
    k.st.load = load_positive;
    ck_assert_int_eq(kit_create(&k), CRAFT_ECALLBACK);
    k.st.load = load_garbage;
    ck_assert_int_eq(kit_create(&k), CRAFT_EINVAL);
    tc_free(&k.c);
}
END_TEST

/* craft_trace_stderr: one line per event on stderr. */
START_TEST(trace_stderr_prints_lines)
{
    struct kit k;
    kit_init(&k);
    k.o.trace = craft_trace_stderr;
    k.o.trace_level = CRAFT_TRACE_DEBUG;
    char path[] = "/tmp/craft-trace-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fd, 2), 2);

    craft_node *n = NULL;
    ck_assert_int_eq(craft_node_create(&k.o, &n), CRAFT_OK);
    uint64_t id = 1;
    ck_assert_int_eq(craft_node_bootstrap(n, &id, 1), CRAFT_OK);
    ck_assert_int_eq(craft_node_start(n), CRAFT_OK);
    for (int t = 0; t < 1000 && craft_node_role(n) != CRAFT_ROLE_LEADER;
         t++) {
        usleep(10000);
    }
    ck_assert_int_eq(craft_node_role(n), CRAFT_ROLE_LEADER);
    ck_assert_int_eq(craft_node_shutdown(n), CRAFT_OK);
    craft_node_free(n);
    craft_trace_stderr(NULL, NULL); /* ignored */

    fflush(stderr);
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    char buf[8192];
    ssize_t got = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    ck_assert_int_gt(got, 0);
    buf[got] = '\0';
    ck_assert_ptr_nonnull(
        strstr(buf, "Z INFO  craft.node node.started node_id=1 term="));
    ck_assert_ptr_nonnull(
        strstr(buf, " craft.engine leader.elected node_id=1 term="));
    ck_assert_ptr_nonnull(strstr(buf, "craft.node node.stopped node_id=1"));
    /* every line is whole: a timestamp first, a newline last */
    ck_assert_int_eq(buf[got - 1], '\n');
    for (char *p = buf; *p != '\0'; p = strchr(p, '\n') + 1) {
        ck_assert_msg(p[4] == '-' && p[10] == 'T', "line: %.60s", p);
    }
    tc_free(&k.c);
}
END_TEST

static void never_cb(void *ctx, const craft_result *r)
{
    (void)ctx;
    (void)r;
    ck_abort_msg("a call that returned an error completed");
}

START_TEST(calls_bad_input)
{
    struct kit k;
    craft_node *n = NULL;
    unsigned char buf[16] = {0};
    kit_init(&k);
    k.o.max_pending = 2;
    ck_assert_int_eq(craft_node_create(&k.o, &n), CRAFT_OK);

    /* bootstrap */
    uint64_t ids[2] = {1, 2}, other[1] = {2}, dup[2] = {1, 1};
    ck_assert_int_eq(craft_node_bootstrap(NULL, ids, 2), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_bootstrap(n, NULL, 2), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_bootstrap(n, ids, 0), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_bootstrap(n, ids, CRAFT_MAX_MEMBERS + 1),
                     CRAFT_ETOOBIG);
    ck_assert_int_eq(craft_node_bootstrap(n, other, 1), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_bootstrap(n, dup, 2), CRAFT_EINVAL);

    /* receive */
    ck_assert_int_eq(craft_node_receive(NULL, buf, 8), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_receive(n, NULL, 8), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_receive(n, buf, 0), CRAFT_EINVAL);
    ck_assert_int_eq(
        craft_node_receive(n, buf, (size_t)CRAFT_MAX_MESSAGE_BYTES + 1),
        CRAFT_ETOOBIG);

    /* propose */
    ck_assert_int_eq(craft_node_propose(NULL, buf, 8, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_propose(n, NULL, 8, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_propose(n, buf,
                                        (size_t)CRAFT_MAX_ENTRY_BYTES + 1, 0,
                                        never_cb, NULL),
                     CRAFT_ETOOBIG);
    ck_assert_int_eq(craft_node_propose_wait(NULL, buf, 8, 0, NULL),
                     CRAFT_EINVAL);
    craft_result *r = (craft_result *)buf;
    ck_assert_int_eq(craft_node_propose_wait(n, NULL, 8, 0, &r), CRAFT_EINVAL);
    ck_assert_ptr_null(r);
    /* max_pending: accepted calls count until they complete */
    struct twait w1, w2;
    tw_init(&w1);
    tw_init(&w2);
    ck_assert_int_eq(craft_node_propose(n, buf, 8, 0, tw_cb, &w1), CRAFT_OK);
    ck_assert_int_eq(craft_node_propose(n, NULL, 0, 0, tw_cb, &w2), CRAFT_OK);
    ck_assert_int_eq(craft_node_propose(n, buf, 8, 0, never_cb, NULL),
                     CRAFT_EBUSY);

    /* reads, membership, transfer, snapshots */
    ck_assert_int_eq(craft_node_read_linearizable(NULL, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_read_linearizable(n, 0, NULL, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_add_peer(NULL, 2, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_add_peer(n, 0, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_add_learner(n, 0, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_promote_learner(n, 0, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_remove_peer(n, 0, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_transfer_leadership(n, 0, 0, never_cb, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_transfer_leadership(NULL, 2, 0, never_cb,
                                                    NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_trigger_snapshot(NULL, 0, never_cb, NULL),
                     CRAFT_EINVAL);

    /* status, metrics, accessors */
    craft_status *st = NULL;
    ck_assert_int_eq(craft_node_status(NULL, &st), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_status(n, NULL), CRAFT_EINVAL);
    uint64_t v;
    ck_assert_int_eq(craft_node_metric(NULL, CRAFT_METRIC_COMMITS, &v),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_metric(n, 0, &v), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_metric(n, 9999, &v), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_metric(n, CRAFT_METRIC_COMMITS, NULL),
                     CRAFT_EINVAL);
    size_t len;
    char small[4];
    ck_assert_int_eq(craft_node_metrics_text(NULL, small, 4, &len),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_metrics_text(n, small, 4, NULL),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_metrics_text(n, NULL, 4, &len), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_metrics_text(n, small, sizeof(small), &len),
                     CRAFT_ETOOBIG);
    ck_assert_uint_eq(strlen(small), 3); /* truncated, terminated */
    ck_assert_ptr_null(craft_metric_name(0));
    ck_assert_ptr_null(craft_metric_name(28));
    ck_assert_ptr_null(craft_metric_help(-1));
    ck_assert_int_eq(craft_metric_kind(0), 0);
    ck_assert_int_eq(craft_metric_kind(CRAFT_METRIC_COMMITS), 1);
    ck_assert_int_eq(craft_metric_kind(CRAFT_METRIC_TERM), 2);
    ck_assert_uint_eq(craft_node_id(NULL), 0);
    ck_assert_int_eq(craft_node_role(NULL), 0);
    ck_assert_uint_eq(craft_node_term(NULL), 0);
    ck_assert_uint_eq(craft_node_leader(NULL), 0);
    ck_assert_uint_eq(craft_node_applied_index(NULL), 0);
    ck_assert_uint_eq(craft_node_errmsg(NULL, small, 4), 0);
    ck_assert_uint_eq(craft_node_errmsg(n, small, sizeof(small)), 0);
    ck_assert_str_eq(small, "");
    ck_assert_uint_eq(craft_status_id(NULL), 0);
    ck_assert_int_eq(craft_status_role(NULL), 0);
    ck_assert_uint_eq(craft_status_member_count(NULL), 0);
    ck_assert_int_eq(craft_status_member(NULL, 0, NULL, NULL, NULL, NULL,
                                         NULL),
                     CRAFT_EINVAL);
    craft_status_free(NULL);
    ck_assert_int_eq(craft_result_status(NULL), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_result_index(NULL), 0);
    ck_assert_uint_eq(craft_result_term(NULL), 0);
    ck_assert_uint_eq(craft_result_leader(NULL), 0);
    const void *d;
    ck_assert_int_eq(craft_result_data(NULL, &d, &len), CRAFT_EINVAL);
    craft_result_free(NULL);
    ck_assert_int_eq(craft_snapshot_writer_write(NULL, buf, 1), CRAFT_EINVAL);
    ck_assert_int_eq(craft_snapshot_reader_read(NULL, buf, 1, &len),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_trace_event_id(NULL), 0);
    ck_assert_int_eq(craft_trace_event_level(NULL), 0);
    ck_assert_ptr_null(craft_trace_event_name(NULL));
    ck_assert_ptr_null(craft_trace_event_target(NULL));
    ck_assert_uint_eq(craft_trace_event_field_count(NULL), 0);
    ck_assert_int_eq(craft_trace_event_field(NULL, 0, NULL, NULL, NULL, NULL,
                                             NULL),
                     CRAFT_EINVAL);

    /* life cycle */
    ck_assert_int_eq(craft_node_start(NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_node_shutdown(NULL), CRAFT_EINVAL);
    craft_node_free(NULL);
    ck_assert_int_eq(craft_node_bootstrap(n, ids, 2), CRAFT_OK);
    ck_assert_int_eq(craft_node_bootstrap(n, ids, 2), CRAFT_ESTATE);
    ck_assert_int_eq(craft_node_start(n), CRAFT_OK);
    ck_assert_int_eq(craft_node_start(n), CRAFT_ESTATE);
    ck_assert_int_eq(craft_node_bootstrap(n, ids, 2), CRAFT_ESTATE);
    /* No leader (its peer never comes): the two queued proposals fail. */
    ck_assert_int_eq(tw_wait(&w1, TC_WAIT_MS), CRAFT_ENOTLEADER);
    ck_assert_int_eq(tw_wait(&w2, TC_WAIT_MS), CRAFT_ENOTLEADER);
    tw_destroy(&w1);
    tw_destroy(&w2);
    /* Bytes that are no message: accepted, counted, harmless. */
    ck_assert_int_eq(craft_node_receive(n, buf, sizeof(buf)), CRAFT_OK);
    int64_t end = tc_now_ms() + TC_WAIT_MS;
    while (tc_now_ms() < end) {
        craft_node_metric(n, CRAFT_METRIC_MESSAGES_INVALID, &v);
        if (v >= 1) {
            break;
        }
        tc_sleep_ms(2);
    }
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(craft_node_shutdown(n), CRAFT_OK);
    craft_node_free(n);
    tc_free(&k.c);
}
END_TEST

START_TEST(testing_helpers_bad_input)
{
    craft_mem_storage *ms = NULL;
    craft_hub *hub = NULL;
    craft_storage_ops st = CRAFT_STORAGE_OPS_INIT;
    craft_transport_ops tr = CRAFT_TRANSPORT_OPS_INIT;
    craft_allocator al = CRAFT_ALLOCATOR_INIT;
    ck_assert_int_eq(craft_mem_storage_create(NULL, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_mem_storage_create(&al, &ms), CRAFT_EINVAL);
    ck_assert_int_eq(craft_mem_storage_create(NULL, &ms), CRAFT_OK);
    ck_assert_int_eq(craft_mem_storage_ops(NULL, &st), CRAFT_EINVAL);
    ck_assert_int_eq(craft_mem_storage_ops(ms, NULL), CRAFT_EINVAL);
    st.struct_size = 0;
    ck_assert_int_eq(craft_mem_storage_ops(ms, &st), CRAFT_ESTRUCT);
    /* an older, smaller table gets only what it has room for */
    memset(&st, 0, sizeof(st));
    st.struct_size = (uint32_t)offsetof(craft_storage_ops, append);
    ck_assert_int_eq(craft_mem_storage_ops(ms, &st), CRAFT_OK);
    ck_assert_ptr_nonnull(st.load);
    ck_assert_ptr_null(st.append);
    ck_assert_int_eq(craft_mem_storage_fail(NULL, CRAFT_EIO), CRAFT_EINVAL);
    ck_assert_int_eq(craft_mem_storage_fail(ms, 5), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_mem_storage_last_index(NULL), 0);
    ck_assert_uint_eq(craft_mem_storage_snapshot_index(NULL), 0);
    ck_assert_uint_eq(craft_mem_storage_term(NULL), 0);
    ck_assert_uint_eq(craft_mem_storage_vote(NULL), 0);
    ck_assert_uint_eq(craft_mem_storage_syncs(NULL), 0);
    craft_mem_storage_free(ms);
    craft_mem_storage_free(NULL);

    ck_assert_int_eq(craft_hub_create(NULL, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_create(NULL, &hub), CRAFT_OK);
    ck_assert_int_eq(craft_hub_transport(NULL, 1, &tr), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_transport(hub, 0, &tr), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_transport(hub, 1, NULL), CRAFT_EINVAL);
    tr.struct_size = sizeof(tr) * 2;
    ck_assert_int_eq(craft_hub_transport(hub, 1, &tr), CRAFT_ESTRUCT);
    ck_assert_int_eq(craft_hub_attach(NULL, 1, (craft_node *)hub),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_attach(hub, 1, NULL), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_attach(hub, 0, (craft_node *)hub),
                     CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_detach(NULL, 1), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_detach(hub, 0), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_set_link(NULL, 1, 2, 0), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_isolate(NULL, 1, 1), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_isolate(hub, 0, 1), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_set_busy(NULL, 1, 1), CRAFT_EINVAL);
    ck_assert_int_eq(craft_hub_set_busy(hub, 0, 1), CRAFT_EINVAL);
    ck_assert_uint_eq(craft_hub_delivered(NULL), 0);
    ck_assert_uint_eq(craft_hub_lost(NULL), 0);
    craft_hub_free(hub);
    craft_hub_free(NULL);
}
END_TEST

/* The blocking calls refuse to run on the node's own threads. */
struct own {
    craft_node *n;
    atomic_int status_rv, wait_rv, shutdown_rv, propose_rv;
    struct twait w;
};

static void own_cb(void *ctx, const craft_result *r)
{
    struct own *o = ctx;
    craft_status *st = NULL;
    unsigned char b[8] = {0};
    atomic_store(&o->status_rv, craft_node_status(o->n, &st));
    atomic_store(&o->wait_rv, craft_node_propose_wait(o->n, b, 8, 0, NULL));
    atomic_store(&o->shutdown_rv, craft_node_shutdown(o->n));
    /* the asynchronous calls are fine from a callback */
    atomic_store(&o->propose_rv, craft_node_propose(o->n, b, 8, 0, NULL,
                                                    NULL));
    tw_cb(&o->w, r);
}

START_TEST(blocking_calls_from_callbacks)
{
    struct tcluster c;
    struct own o;
    memset(&o, 0, sizeof(o));
    tw_init(&o.w);
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    o.n = tc_node(&c, leader)->node;
    unsigned char b[8] = {0};
    ck_assert_int_eq(craft_node_propose(o.n, b, 8, 0, own_cb, &o), CRAFT_OK);
    ck_assert_int_eq(tw_wait(&o.w, TC_WAIT_MS), CRAFT_OK);
    ck_assert_int_eq(atomic_load(&o.status_rv), CRAFT_ESTATE);
    ck_assert_int_eq(atomic_load(&o.wait_rv), CRAFT_ESTATE);
    ck_assert_int_eq(atomic_load(&o.shutdown_rv), CRAFT_ESTATE);
    ck_assert_int_eq(atomic_load(&o.propose_rv), CRAFT_OK);
    tw_destroy(&o.w);
    tc_free(&c);
}
END_TEST

/* A failing storage write stops the node (fail-stop): pending and later
 * calls get CRAFT_EIO, the others elect a new leader. */
START_TEST(storage_failure_stops_the_node)
{
    struct tcluster c;
    tc_init(&c);
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    craft_node *n = tc_node(&c, leader)->node;
    tc_storage_fail(&c, leader, CRAFT_EIO);
    struct twait w;
    tw_init(&w);
    unsigned char b[8] = {0};
    ck_assert_int_eq(craft_node_propose(n, b, 8, 0, tw_cb, &w), CRAFT_OK);
    ck_assert_int_eq(tw_wait(&w, TC_WAIT_MS), CRAFT_EIO);
    tw_destroy(&w);
    ck_assert_int_eq(craft_node_propose(n, b, 8, 0, never_cb, NULL),
                     CRAFT_EIO);
    ck_assert_int_eq(craft_node_read_linearizable(n, 0, never_cb, NULL),
                     CRAFT_EIO);
    char msg[256];
    ck_assert_uint_gt(craft_node_errmsg(n, msg, sizeof(msg)), 0);
    ck_assert_ptr_nonnull(strstr(msg, "storage"));
    craft_status *st = NULL;
    ck_assert_int_eq(craft_node_status(n, &st), CRAFT_OK); /* still works */
    craft_status_free(st);
    /* The others go on without it. */
    tc_crash(&c, leader);
    tc_commit(&c, 2);
    tc_free(&c);
}
END_TEST

/* A peer whose transport says "busy": its queue fills and drops, the
 * driver never blocks, the others are not affected. */
START_TEST(busy_peer_never_blocks)
{
    struct tcluster c;
    tc_init(&c);
    c.opts.peer_queue_messages = 4;
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    uint64_t slow = leader % 3 + 1;
    craft_hub_set_busy(c.hub, slow, 1);
    uint64_t last = 0;
    for (uint64_t v = 2; v <= 60; v++) {
        ck_assert_int_eq(tc_propose(&c, leader, v, &last), CRAFT_OK);
    }
    ck_assert_uint_ge(tc_metric(&c, leader, CRAFT_METRIC_MESSAGES_DROPPED), 1);
    craft_hub_set_busy(c.hub, slow, 0);
    tc_wait_applied(&c, last); /* it catches up once free again */
    tc_free(&c);
}
END_TEST

/* Errors of the state machine's callbacks reach the callers. */
START_TEST(fsm_callback_errors)
{
    struct tcluster c;
    tc_init(&c);
    c.eopts.snapshot_entries = 0;
    tc_start(&c, 3);
    tc_commit(&c, 1);
    uint64_t leader = tc_wait_leader(&c);
    uint64_t index = 0;
    ck_assert_int_eq(tc_propose(&c, leader, TFSM_BAD_VALUE, &index),
                     CRAFT_ECALLBACK);
    ck_assert_uint_gt(index, 0); /* committed and applied anyway */
    ck_assert_uint_ge(craft_node_applied_index(tc_node(&c, leader)->node),
                      index);
    uint64_t last = tc_commit(&c, 2);
    tc_wait_applied(&c, last);
    tc_check_same_state(&c, 3);

    struct tfsm *f = &tc_node(&c, leader)->fsm;
    atomic_store(&f->fail_snapshot, 1);
    struct twait w;
    tw_init(&w);
    ck_assert_int_eq(craft_node_trigger_snapshot(tc_node(&c, leader)->node,
                                                 0, tw_cb, &w),
                     CRAFT_OK);
    ck_assert_int_eq(tw_wait(&w, TC_WAIT_MS), CRAFT_ECALLBACK);
    tw_destroy(&w);
    char msg[256];
    ck_assert_uint_gt(craft_node_errmsg(tc_node(&c, leader)->node, msg,
                                        sizeof(msg)),
                      0);
    atomic_store(&f->fail_snapshot, 0);
    tw_init(&w);
    ck_assert_int_eq(craft_node_trigger_snapshot(tc_node(&c, leader)->node,
                                                 0, tw_cb, &w),
                     CRAFT_OK);
    ck_assert_int_eq(tw_wait(&w, TC_WAIT_MS), CRAFT_OK);
    ck_assert_uint_ge(w.index, last);
    tw_destroy(&w);
    tc_free(&c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("node_api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, init_macros_match_functions);
    tcase_add_test(tc, create_bad_input);
    tcase_add_test(tc, trace_stderr_prints_lines);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, calls_bad_input);
    tcase_add_test(tc, testing_helpers_bad_input);
    tcase_add_test(tc, blocking_calls_from_callbacks);
    tcase_add_test(tc, storage_failure_stops_the_node);
    tcase_add_test(tc, busy_peer_never_blocks);
    tcase_add_test(tc, fsm_callback_errors);
    suite_add_tcase(s, tc);
    return s;
}

TEST_MAIN(suite)
