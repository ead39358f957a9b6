/*
 * tests/unit/test_version.c: version queries, error names and the
 * allocator hook's init function (include/craft/common.h).
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "craft.h"

/* Every code of enum craft_error, with its name. */
static const struct {
    int code;
    const char *name;
} codes[] = {
    { CRAFT_OK, "CRAFT_OK" },
    { CRAFT_EINVAL, "CRAFT_EINVAL" },
    { CRAFT_ENOMEM, "CRAFT_ENOMEM" },
    { CRAFT_ESTRUCT, "CRAFT_ESTRUCT" },
    { CRAFT_EMALFORMED, "CRAFT_EMALFORMED" },
    { CRAFT_ECHECKSUM, "CRAFT_ECHECKSUM" },
    { CRAFT_EVERSION, "CRAFT_EVERSION" },
    { CRAFT_ETOOBIG, "CRAFT_ETOOBIG" },
    { CRAFT_ENOTLEADER, "CRAFT_ENOTLEADER" },
    { CRAFT_EUNKNOWNPEER, "CRAFT_EUNKNOWNPEER" },
    { CRAFT_ESHUTDOWN, "CRAFT_ESHUTDOWN" },
    { CRAFT_EBUSY, "CRAFT_EBUSY" },
    { CRAFT_ETIMEDOUT, "CRAFT_ETIMEDOUT" },
    { CRAFT_ELOST, "CRAFT_ELOST" },
    { CRAFT_ESTEPPEDDOWN, "CRAFT_ESTEPPEDDOWN" },
    { CRAFT_ENOTREADY, "CRAFT_ENOTREADY" },
    { CRAFT_ECALLBACK, "CRAFT_ECALLBACK" },
    { CRAFT_ESTATE, "CRAFT_ESTATE" },
    { CRAFT_EIO, "CRAFT_EIO" },
    { CRAFT_ECORRUPT, "CRAFT_ECORRUPT" },
    { CRAFT_EEXIST, "CRAFT_EEXIST" },
    { CRAFT_ENOENT, "CRAFT_ENOENT" },
    { CRAFT_ECANCELED, "CRAFT_ECANCELED" },
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

START_TEST(version_matches_macros)
{
    int major = -1, minor = -1, patch = -1;

    ck_assert_int_eq(craft_version(&major, &minor, &patch),
                     CRAFT_VERSION_NUMBER);
    ck_assert_int_eq(major, CRAFT_VERSION_MAJOR);
    ck_assert_int_eq(minor, CRAFT_VERSION_MINOR);
    ck_assert_int_eq(patch, CRAFT_VERSION_PATCH);
    ck_assert_str_eq(craft_version_string(), CRAFT_VERSION_STRING);
    ck_assert_int_eq(craft_abi_version(), CRAFT_ABI_VERSION);
}
END_TEST

START_TEST(version_accepts_null_pointers)
{
    int minor = -1;

    ck_assert_int_eq(craft_version(NULL, NULL, NULL), CRAFT_VERSION_NUMBER);
    ck_assert_int_eq(craft_version(NULL, &minor, NULL), CRAFT_VERSION_NUMBER);
    ck_assert_int_eq(minor, CRAFT_VERSION_MINOR);
}
END_TEST

START_TEST(version_string_is_the_numbers)
{
    char want[64];

    snprintf(want, sizeof(want), "%d.%d.%d", CRAFT_VERSION_MAJOR,
             CRAFT_VERSION_MINOR, CRAFT_VERSION_PATCH);
    ck_assert_str_eq(craft_version_string(), want);
    ck_assert_int_eq(CRAFT_VERSION_NUMBER, CRAFT_VERSION_MAJOR * 10000 +
                                               CRAFT_VERSION_MINOR * 100 +
                                               CRAFT_VERSION_PATCH);
}
END_TEST

START_TEST(strerror_names_every_code)
{
    for (size_t i = 0; i < NCODES; i++) {
        const char *s = craft_strerror(codes[i].code);
        size_t n = strlen(codes[i].name);

        ck_assert_ptr_nonnull(s);
        ck_assert_msg(strlen(s) > n, "code %d: \"%s\"", codes[i].code, s);
        /* Starts with its own name, followed by ':' (so CRAFT_E is not
         * mistaken for a prefix of a longer name). */
        ck_assert_msg(strncmp(s, codes[i].name, n) == 0 && s[n] == ':',
                      "code %d: \"%s\" does not name %s", codes[i].code, s,
                      codes[i].name);
    }
}
END_TEST

START_TEST(strerror_texts_are_distinct)
{
    for (size_t i = 0; i < NCODES; i++) {
        for (size_t j = i + 1; j < NCODES; j++) {
            ck_assert_str_ne(craft_strerror(codes[i].code),
                             craft_strerror(codes[j].code));
        }
    }
}
END_TEST

START_TEST(strerror_codes_are_fixed)
{
    /* The values are part of the ABI; a renumbering must fail here. */
    ck_assert_int_eq(NCODES, 23);
    for (size_t i = 0; i < NCODES; i++) {
        ck_assert_int_eq(codes[i].code, -(int)i);
    }
}
END_TEST

START_TEST(strerror_unknown_codes)
{
    static const int unknown[] = { 1, 2, 100, -23, -24, -1000, 12345,
                                   -2147483647 - 1, 2147483647 };

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        ck_assert_str_eq(craft_strerror(unknown[i]), "unknown error");
    }
}
END_TEST

START_TEST(allocator_init_null)
{
    ck_assert_int_eq(craft_allocator_init(NULL), CRAFT_EINVAL);
}
END_TEST

START_TEST(allocator_init_matches_macro)
{
    /* Static: its padding bytes are zero, so memcmp compares every byte
     * the function must write. *a starts as garbage to prove it does. */
    static const craft_allocator macro = CRAFT_ALLOCATOR_INIT;
    craft_allocator a;

    memset(&a, 0xA5, sizeof(a));
    ck_assert_int_eq(craft_allocator_init(&a), CRAFT_OK);
    ck_assert_int_eq(memcmp(&a, &macro, sizeof(a)), 0);
    ck_assert_uint_eq(a.struct_size, sizeof(craft_allocator));
    ck_assert_ptr_null(a.user);
    ck_assert(a.malloc == NULL && a.realloc == NULL && a.free == NULL);
}
END_TEST

static Suite *version_suite(void)
{
    Suite *s = suite_create("version");
    TCase *tc = tcase_create("version");

    tcase_add_test(tc, version_matches_macros);
    tcase_add_test(tc, version_accepts_null_pointers);
    tcase_add_test(tc, version_string_is_the_numbers);
    suite_add_tcase(s, tc);

    tc = tcase_create("strerror");
    tcase_add_test(tc, strerror_names_every_code);
    tcase_add_test(tc, strerror_texts_are_distinct);
    tcase_add_test(tc, strerror_codes_are_fixed);
    tcase_add_test(tc, strerror_unknown_codes);
    suite_add_tcase(s, tc);

    tc = tcase_create("allocator");
    tcase_add_test(tc, allocator_init_null);
    tcase_add_test(tc, allocator_init_matches_macro);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(version_suite)
