/*
 * tests/unit/test_structinit.c: every public struct the caller fills in
 * has an init macro and an init function that give identical bytes
 * (libgit2's tests/libgit2/core/structinit.c does the same).
 *
 * The macro's value is held in a static object, whose padding is zero
 * (C11 6.7.9p10); the function's output starts zeroed, as a caller's
 * memset or static object would, so memcmp compares fields and padding.
 */
#include <string.h>

#include "harness.h"
#include "craft.h"

#define CHECK_INIT_EQUAL(type, macro, fn)                                     \
    do {                                                                      \
        static const type from_macro = macro;                                 \
        type from_fn;                                                         \
        memset(&from_fn, 0, sizeof(from_fn));                                 \
        ck_assert_int_eq(fn(&from_fn), CRAFT_OK);                             \
        ck_assert_msg(memcmp(&from_fn, &from_macro, sizeof(type)) == 0,       \
                      #fn " and " #macro " differ");                          \
        ck_assert_uint_eq(from_fn.struct_size, sizeof(type));                 \
        ck_assert_int_eq(fn(NULL), CRAFT_EINVAL);                             \
    } while (0)

START_TEST(allocator)
{
    CHECK_INIT_EQUAL(craft_allocator, CRAFT_ALLOCATOR_INIT,
                     craft_allocator_init);
}
END_TEST

START_TEST(engine_options)
{
    CHECK_INIT_EQUAL(craft_engine_options, CRAFT_ENGINE_OPTIONS_INIT,
                     craft_engine_options_init);
}
END_TEST

START_TEST(engine_options_defaults)
{
    /* The defaults engine.h documents. */
    craft_engine_options o;

    ck_assert_int_eq(craft_engine_options_init(&o), CRAFT_OK);
    ck_assert_uint_eq(o.election_ticks, 10);
    ck_assert_uint_eq(o.id, 0);
    ck_assert_uint_eq(o.seed, 0);
    ck_assert_uint_eq(o.heartbeat_ticks, 1);
    ck_assert_uint_eq(o.max_inflight, 256);
    ck_assert_uint_eq(o.max_msg_bytes, 1024u * 1024u);
    ck_assert_int_eq(o.pre_vote, 1);
    ck_assert_int_eq(o.check_quorum, 1);
    ck_assert_ptr_null(o.allocator);
}
END_TEST

START_TEST(file_storage_options)
{
    CHECK_INIT_EQUAL(craft_file_storage_options,
                     CRAFT_FILE_STORAGE_OPTIONS_INIT,
                     craft_file_storage_options_init);
}
END_TEST

START_TEST(file_storage_options_defaults)
{
    /* The defaults craft/storage.h documents. */
    craft_file_storage_options o;

    ck_assert_int_eq(craft_file_storage_options_init(&o), CRAFT_OK);
    ck_assert_uint_eq(o.sync_mode, CRAFT_FILE_SYNC_FDATASYNC);
    ck_assert_uint_eq(o.segment_bytes, 64u * 1024u * 1024u);
    ck_assert_int_eq(o.preallocate, 1);
    ck_assert_uint_eq(o.cluster_id, 0);
    ck_assert_uint_eq(o.node_id, 0);
    ck_assert_int_eq(o.trace_level, CRAFT_TRACE_INFO);
    ck_assert_ptr_null(o.allocator);
    ck_assert_ptr_null(o.trace);
    ck_assert_ptr_null(o.errbuf);
    ck_assert_uint_eq(o.errbuf_size, 0);
}
END_TEST

START_TEST(event)
{
    CHECK_INIT_EQUAL(craft_event, CRAFT_EVENT_INIT, craft_event_init);
}
END_TEST

START_TEST(tcp_options)
{
    CHECK_INIT_EQUAL(craft_tcp_options, CRAFT_TCP_OPTIONS_INIT,
                     craft_tcp_options_init);
}
END_TEST

START_TEST(tcp_options_defaults)
{
    /* The defaults craft/tcp.h documents. */
    craft_tcp_options o;

    ck_assert_int_eq(craft_tcp_options_init(&o), CRAFT_OK);
    ck_assert_uint_eq(o.max_frame_bytes, CRAFT_MAX_MESSAGE_BYTES);
    ck_assert_uint_eq(o.node_id, 0);
    ck_assert_uint_eq(o.cluster_id, 0);
    ck_assert_ptr_null(o.listen);
    ck_assert_ptr_null(o.advertise);
    ck_assert_uint_eq(o.queue_messages, 1024);
    ck_assert_uint_eq(o.queue_bytes, 64u * 1024u * 1024u);
    ck_assert_uint_eq(o.connect_timeout_ms, 3000);
    ck_assert_uint_eq(o.backoff_min_ms, 20);
    ck_assert_uint_eq(o.backoff_max_ms, 2000);
    ck_assert_uint_eq(o.stall_timeout_ms, 10000);
    ck_assert_ptr_null(o.allocator);
    ck_assert_ptr_null(o.trace);
    ck_assert_ptr_null(o.trace_user);
    ck_assert_int_eq(o.trace_level, CRAFT_TRACE_INFO);
    ck_assert_uint_eq(o.seed, 0);
}
END_TEST

static Suite *structinit_suite(void)
{
    Suite *s = suite_create("structinit");
    TCase *tc = tcase_create("structinit");

    tcase_add_test(tc, allocator);
    tcase_add_test(tc, engine_options);
    tcase_add_test(tc, engine_options_defaults);
    tcase_add_test(tc, event);
    tcase_add_test(tc, file_storage_options);
    tcase_add_test(tc, file_storage_options_defaults);
    tcase_add_test(tc, tcp_options);
    tcase_add_test(tc, tcp_options_defaults);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(structinit_suite)
