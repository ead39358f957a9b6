/*
 * tests/unit/harness.h: every tests/unit/test_*.c is its own Check program.
 * It defines its suite and ends with CRAFT_TEST_MAIN(suite_fn).
 */
#ifndef CRAFT_TEST_HARNESS_H
#define CRAFT_TEST_HARNESS_H

#include <check.h>
#include <stdlib.h>

#define CRAFT_TEST_MAIN(suite_fn)                                             \
    int main(void)                                                            \
    {                                                                         \
        SRunner *sr_ = srunner_create(suite_fn());                            \
        srunner_run_all(sr_, CK_NORMAL);                                      \
        int failed_ = srunner_ntests_failed(sr_);                             \
        srunner_free(sr_);                                                    \
        return failed_ == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                    \
    }

#endif
