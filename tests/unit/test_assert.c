/*
 * CRAFT_ASSERT (src/util/assert.h) in a checked build: a false condition
 * aborts the process after printing the condition, the file and the
 * line; a true one does nothing and is evaluated exactly once. (The unit
 * tests are a checked build: the Makefile compiles them, and the library
 * they link, with -DCRAFT_CHECKED.)
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util/assert.h"

#ifndef CRAFT_CHECKED
#error "the unit tests must be a checked build (-DCRAFT_CHECKED)"
#endif

/* Runs CRAFT_ASSERT(value == 3) in a child; its stderr goes to *out. */
static int assert_in_child(int value, char *out, size_t cap, int *line)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    *line = __LINE__ + 6;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        CRAFT_ASSERT(value == 3);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - n - 1)) > 0) {
        n += (size_t)r;
    }
    out[n] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return status;
}

START_TEST(false_condition_aborts_with_place)
{
    char out[4096];
    int line;
    int status = assert_in_child(2, out, sizeof(out), &line);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGABRT);
    char want[256];
    snprintf(want, sizeof(want),
             "craft: assertion failed: tests/unit/test_assert.c:%d: "
             "value == 3\n", line);
    ck_assert_msg(strstr(out, want) != NULL, "stderr was: %s", out);
}
END_TEST

START_TEST(true_condition_continues)
{
    char out[4096];
    int line;
    int status = assert_in_child(3, out, sizeof(out), &line);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(condition_evaluated_once)
{
    int n = 0;
    CRAFT_ASSERT(++n == 1);
    ck_assert_int_eq(n, 1);
}
END_TEST

static Suite *assert_suite(void)
{
    Suite *s = suite_create("assert");
    TCase *tc = tcase_create("checked");
    tcase_add_test(tc, false_condition_aborts_with_place);
    tcase_add_test(tc, true_condition_continues);
    tcase_add_test(tc, condition_evaluated_once);
    suite_add_tcase(s, tc);
    return s;
}

CRAFT_TEST_MAIN(assert_suite)
