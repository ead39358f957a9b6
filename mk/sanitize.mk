# mk/sanitize.mk: the test suites under sanitizers and valgrind.
#
# Each tool is defined once: its build directory, flags and environment.
# A target runs some suites of the main Makefile with them:
#
#   make sanitize              unit tests under ASan + UBSan (build-asan/)
#   make asan-integration      the runtime's tests under ASan + UBSan
#   make sim-asan              the simulator's Check programs under ASan +
#                              UBSan
#   make tsan                  the runtime's tests under ThreadSanitizer
#                              (build-tsan/)
#   make valgrind              unit tests under valgrind (memcheck)
#   make valgrind-integration  the runtime's tests under valgrind
#   make valgrind-ffi          the libffi/dlopen tests under valgrind
#
# Sanitizer runtimes of clang are not linked into shared objects, hence
# ZDEFS= (no -z defs) in those builds. Check runs each test in-process
# (CK_FORK=no) so that the tools see every test.


SAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=all
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
VALGRIND   ?= valgrind --error-exitcode=1 --leak-check=full \
              --errors-for-leak-kinds=definite,indirect --quiet

ASAN_ENV := CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
            UBSAN_OPTIONS=print_stacktrace=1
TSAN_ENV := CK_FORK=no \
            TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"

# $(call asan_make,TARGETS): make TARGETS in build-asan/ with ASan + UBSan.
asan_make = $(MAKE) --no-print-directory BUILD=build-asan \
	EXTRA_CFLAGS='$(SAN_FLAGS) $(EXTRA_CFLAGS)' \
	EXTRA_LDFLAGS='$(SAN_FLAGS) $(EXTRA_LDFLAGS)' ZDEFS= \
	TEST_ENV='$(ASAN_ENV)' $(1)
# $(call tsan_make,TARGETS): the same in build-tsan/ with TSan.
tsan_make = $(MAKE) --no-print-directory BUILD=build-tsan \
	EXTRA_CFLAGS='$(TSAN_FLAGS) $(EXTRA_CFLAGS)' \
	EXTRA_LDFLAGS='$(TSAN_FLAGS) $(EXTRA_LDFLAGS)' ZDEFS= \
	TEST_ENV='$(TSAN_ENV)' $(1)
# $(call valgrind_make,TARGETS): TARGETS' programs under valgrind.
valgrind_make = $(MAKE) --no-print-directory TEST_ENV='CK_FORK=no' \
	TEST_WRAPPER='$(VALGRIND)' $(1)

.PHONY: sanitize asan-integration sim-asan tsan valgrind \
        valgrind-integration valgrind-ffi

sanitize: deps
	@$(call asan_make,all tests unit)

asan-integration: deps
	@$(call asan_make,integration-test)

sim-asan: deps
	@$(call asan_make,sim-checks)

tsan: deps
	@$(call tsan_make,integration-test)

valgrind: deps
	@$(call valgrind_make,unit)

valgrind-integration: deps
	@$(call valgrind_make,integration-test)

valgrind-ffi: deps
	@$(call valgrind_make,ffi-test)
