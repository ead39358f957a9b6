# mk/node.mk: the node runtime's tests and benchmark (issue 5).
#
# Included by the top-level Makefile (or, standalone, with
# `make -f Makefile -f mk/node.mk TARGET`); it uses the Makefile's
# variables (BUILD, CC, TEST_CFLAGS, LIB_A, CHECK_LIBS, SAN_FLAGS, ...).
# The programs link only libcraft.a: the runtime needs nothing else.
#
#   make integration-test      tests/integration/test_*.c (Check programs)
#   make tsan                  the same under ThreadSanitizer (build-tsan/)
#   make asan-integration      under ASan + UBSan (build-asan/)
#   make valgrind-integration  under valgrind (memcheck, leak check)
#   make bench-node            tests/bench/bench_node.c: a 3-node cluster
#                              over the in-process hub, commits/s and
#                              latency at 1, 16 and 256 proposers
#
# Programs go to $(BUILD)/node/, apart from the Makefile's own test
# rules (which also link the simulator archive).

ifndef CRAFT_NODE_MK_INCLUDED
CRAFT_NODE_MK_INCLUDED := 1

# How to run make again with this fragment, included or not.
NODE_MK_SELF := $(lastword $(MAKEFILE_LIST))
NODE_MK_MAIN := $(firstword $(MAKEFILE_LIST))
NODE_MAKE = $(MAKE) --no-print-directory -f $(NODE_MK_MAIN) \
            $(if $(filter $(NODE_MK_SELF),$(NODE_MK_MAIN)),,-f $(NODE_MK_SELF))

NODE_TEST_SRCS := $(wildcard tests/integration/test_*.c)
NODE_TESTS     := $(patsubst tests/integration/%.c,$(BUILD)/node/%,$(NODE_TEST_SRCS))
NODE_BENCH     := $(BUILD)/node/bench_node
NODE_OBJS      := $(NODE_TESTS:%=%.o) $(NODE_BENCH).o
NODE_TEST_CFLAGS = $(TEST_CFLAGS) -Itests/integration

$(BUILD)/node/test_%.o: tests/integration/test_%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(NODE_TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(NODE_BENCH).o: tests/bench/bench_node.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(NODE_TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(NODE_TESTS): $(BUILD)/node/%: $(BUILD)/node/%.o $(LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(LIB_A) $(CHECK_LIBS) $(PROG_LIBS)

$(NODE_BENCH): $(NODE_BENCH).o $(LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(LIB_A) $(PROG_LIBS)

-include $(NODE_OBJS:.o=.d)

.PHONY: integration-test tsan asan-integration valgrind-integration \
        bench-node node-tests

node-tests: $(NODE_TESTS) $(NODE_BENCH)

# Each program is a Check runner; the last line is
# "integration: N passed, N failed".
integration-test: $(NODE_TESTS)
	@$(TEST_ENV) sh tests/run-checks.sh -l integration -w '$(TEST_WRAPPER)' \
		$(NODE_TESTS)

tsan: deps
	@$(NODE_MAKE) BUILD=build-tsan \
		EXTRA_CFLAGS='$(TSAN_FLAGS) $(EXTRA_CFLAGS)' \
		EXTRA_LDFLAGS='$(TSAN_FLAGS) $(EXTRA_LDFLAGS)' ZDEFS= \
		TEST_ENV='CK_FORK=no TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"' \
		integration-test

asan-integration: deps
	@$(NODE_MAKE) BUILD=build-asan \
		EXTRA_CFLAGS='$(SAN_FLAGS) $(EXTRA_CFLAGS)' \
		EXTRA_LDFLAGS='$(SAN_FLAGS) $(EXTRA_LDFLAGS)' ZDEFS= \
		TEST_ENV='CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1' \
		integration-test

valgrind-integration: deps
	@$(NODE_MAKE) TEST_ENV='CK_FORK=no' TEST_WRAPPER='$(VALGRIND)' \
		integration-test

bench-node: $(NODE_BENCH)
	$(NODE_BENCH)

endif # CRAFT_NODE_MK_INCLUDED
