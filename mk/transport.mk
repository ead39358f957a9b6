# mk/transport.mk: the TCP transport's tests (tests/transport/).
#
# Included by the top-level Makefile; uses its variables (BUILD, CC,
# TEST_CFLAGS, LIB_A, CHECK_LIBS) and mk/sanitize.mk's tool definitions.
# The programs link libcraft.a and use only the public API, plus
# tests/integration/node_harness.h (state machine, waiters).
#
#   make transport-test       tests/transport/test_*.c (Check programs): a
#                             3-node cluster over TCP (memory and file
#                             storage), a peer that never reads, handshake
#                             refusals, membership changes, addresses and
#                             options, a random-bytes run at the listener
#   make asan-transport       the same under ASan + UBSan (build-asan/)
#   make tsan-transport       the same under ThreadSanitizer (build-tsan/)
#   make valgrind-transport   the same under valgrind
#   make bench-tcp            tests/bench/bench_tcp.c: 3 nodes over loopback
#                             TCP next to the in-process hub, 1/64/256
#                             proposers, and a 64-byte ping-pong (also
#                             run by `make bench`)
#
# The sanitizer and valgrind runs set CRAFT_TEST_QUICK=1: the long
# scenarios (100k entries, the random-bytes run) are scaled down there.
# Programs go to $(BUILD)/transport/.

TRANSPORT_TEST_SRCS := $(wildcard tests/transport/test_*.c)
TRANSPORT_TESTS     := $(patsubst tests/transport/%.c,$(BUILD)/transport/%,$(TRANSPORT_TEST_SRCS))
TRANSPORT_TEST_CFLAGS = $(TEST_CFLAGS) -Itests/transport -Itests/integration

$(BUILD)/transport/test_%.o: tests/transport/test_%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(TRANSPORT_TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(TRANSPORT_TESTS): $(BUILD)/transport/%: $(BUILD)/transport/%.o $(LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(LIB_A) $(CHECK_LIBS) $(PROG_LIBS)

-include $(TRANSPORT_TESTS:=.d)

.PHONY: transport-test transport-tests asan-transport tsan-transport \
        valgrind-transport bench-tcp

transport-tests: $(TRANSPORT_TESTS)

# The last line is "transport: N passed, N failed".
transport-test: $(TRANSPORT_TESTS)
	@$(TEST_ENV) sh tests/run-checks.sh -l transport \
		-w '$(TEST_WRAPPER)' $(TRANSPORT_TESTS)

TRANSPORT_QUICK := CRAFT_TEST_QUICK=1

asan-transport: deps
	@$(MAKE) --no-print-directory BUILD=build-asan \
		EXTRA_CFLAGS='$(SAN_FLAGS) $(EXTRA_CFLAGS)' \
		EXTRA_LDFLAGS='$(SAN_FLAGS) $(EXTRA_LDFLAGS)' ZDEFS= \
		TEST_ENV='$(ASAN_ENV) $(TRANSPORT_QUICK)' transport-test

tsan-transport: deps
	@$(MAKE) --no-print-directory BUILD=build-tsan \
		EXTRA_CFLAGS='$(TSAN_FLAGS) $(EXTRA_CFLAGS)' \
		EXTRA_LDFLAGS='$(TSAN_FLAGS) $(EXTRA_LDFLAGS)' ZDEFS= \
		TEST_ENV='$(TSAN_ENV) $(TRANSPORT_QUICK)' transport-test

valgrind-transport: deps
	@$(MAKE) --no-print-directory \
		TEST_ENV='CK_FORK=no $(TRANSPORT_QUICK)' \
		TEST_WRAPPER='$(VALGRIND)' transport-test


# BENCH_SECONDS: seconds per run (default 2).
bench-tcp: $(BUILD)/bench_tcp
	$(BUILD)/bench_tcp $(BENCH_SECONDS)
