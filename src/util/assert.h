/*
 * util/assert.h: CRAFT_ASSERT, for the library's internal invariants.
 *
 * An assertion states something the code itself guarantees: a rule's
 * precondition, a relation between fields that every step preserves. It
 * is never used to check input (a message, an event, a loaded entry, a
 * caller's argument): bad input is answered with an error code, in every
 * build. A failed assertion is a bug in craft.
 *
 * Checked builds define CRAFT_CHECKED: the Makefile compiles the library
 * a second time with it for every program that tests it (unit, runtime
 * and simulator tests, craft-sim, the sanitizer builds; see "Checked
 * builds" in README.md). There a false condition prints
 *
 *     craft: assertion failed: src/engine/replicate.c:42: p->match < p->next
 *
 * to stderr and aborts. Release builds (libcraft.so, libcraft.a, the
 * benchmarks) compile every assertion out: the condition is not evaluated
 * (only type-checked), so it may be as costly as it needs to be.
 */
#ifndef CRAFT_UTIL_ASSERT_H
#define CRAFT_UTIL_ASSERT_H

#if defined(__GNUC__) || defined(__clang__)
#define CRAFT_NORETURN __attribute__((noreturn))
#else
#define CRAFT_NORETURN
#endif

#ifdef CRAFT_CHECKED
/* Prints the failed condition with its place and aborts (checked builds
 * only: a release library contains no call to abort()). */
CRAFT_NORETURN void craft_assert_fail(const char *cond, const char *file,
                                      int line);

#define CRAFT_ASSERT(cond)                                                    \
    ((cond) ? (void)0 : craft_assert_fail(#cond, __FILE__, __LINE__))
#else
#define CRAFT_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

#endif /* CRAFT_UTIL_ASSERT_H */
