# mk/kv.mk: craft-kv (examples/kv/), a replicated key-value server that
# redis clients talk to, built on the public API only (craft_node, the
# file storage, the TCP transport).
#
# Included by the top-level Makefile; uses its variables (BUILD, CC,
# BENCH_CFLAGS, TEST_CFLAGS, LIB_A, CHECK_LIBS, PROG_LIBS).
#
#   make kv / $(BUILD)/craft-kv   the server (also built by `make`)
#   make kv-cluster        3 processes on 127.0.0.1 in fresh data
#                          directories under $(BUILD)/kv-cluster; prints
#                          how to connect (redis-cli -p 6381)
#   make kv-cluster-stop   stops them (by their pids)
#   make kv-demo           the tour: cluster, writes, SIGKILL of the
#                          leader, failover, restart, catch-up, rates
#   make kv-test           tests/kv: the RESP parser (Check, with a
#                          random-bytes run) and a 3-process cluster
#                          driven with redis-cli (part of make check)
#   make bench-kv          redis-benchmark against the craft-kv cluster
#                          and a redis-server with appendfsync always in
#                          the same run, the raw fdatasync rate, 1..256
#                          clients; ratios. KV_BENCH_N=requests per run.
#   make asan-kv / tsan-kv the same tests with everything (libcraft,
#                          craft-kv) built with ASan + UBSan / TSan
#                          (build-asan/, build-tsan/); a sanitizer report
#                          in any server's log fails the cluster test
#
# Programs go to $(BUILD)/kv/ and $(BUILD)/craft-kv.

KV_SRCS := $(wildcard examples/kv/*.c)
KV_OBJS := $(KV_SRCS:%.c=$(BUILD)/%.o)
KV_BIN  := $(BUILD)/craft-kv
KV_CFLAGS = $(BENCH_CFLAGS) -Iexamples/kv
KV_TEST_SRCS := $(wildcard tests/kv/test_*.c)
KV_TESTS := $(patsubst tests/kv/%.c,$(BUILD)/kv/%,$(KV_TEST_SRCS))

$(KV_OBJS): $(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(KV_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(KV_BIN): $(KV_OBJS) $(LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$(KV_OBJS) $(LIB_A) $(PROG_LIBS)

# The parser's unit test links resp.c and store.c directly.
$(BUILD)/kv/test_%.o: tests/kv/test_%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(TEST_CFLAGS) -Iexamples/kv $(DEPFLAGS) -c -o $@ $<

$(KV_TESTS): $(BUILD)/kv/%: $(BUILD)/kv/%.o $(BUILD)/examples/kv/resp.o \
		$(BUILD)/examples/kv/store.o $(LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$^ $(CHECK_LIBS) $(PROG_LIBS)

-include $(KV_OBJS:.o=.d) $(KV_TESTS:=.d)

# (A copy of the tree without examples/, as tests/abi makes, builds.)
all: $(if $(KV_SRCS),$(KV_BIN))

.PHONY: kv kv-tests kv-test kv-cluster kv-cluster-stop kv-demo bench-kv \
        asan-kv tsan-kv
kv: $(KV_BIN)
kv-tests: $(KV_TESTS)

# The last line is "kv: N passed, N failed" (the Check programs), then
# the cluster script's own summary.
kv-test: $(KV_TESTS) $(KV_BIN)
	@$(TEST_ENV) sh tests/run-checks.sh -l kv -w '$(TEST_WRAPPER)' \
		$(KV_TESTS)
	@$(TEST_ENV) KV_BIN=$(KV_BIN) KV_DIR=$(BUILD)/kv/cluster-test \
		bash tests/kv/cluster-test.sh

kv-cluster: $(KV_BIN)
	@KV_BIN=$(KV_BIN) KV_DIR=$(BUILD)/kv-cluster \
		sh examples/kv/kv-cluster.sh start

kv-cluster-stop:
	@KV_DIR=$(BUILD)/kv-cluster sh examples/kv/kv-cluster.sh stop

kv-demo: deps $(KV_BIN)
	@KV_BIN=$(KV_BIN) KV_DIR=$(BUILD)/kv-demo bash examples/kv/kv-demo.sh

bench-kv: deps $(KV_BIN)
	@KV_BIN=$(KV_BIN) KV_DIR=$(BUILD)/kv-bench bash tests/kv/bench-kv.sh

asan-kv: deps
	@$(MAKE) --no-print-directory BUILD=build-asan \
		EXTRA_CFLAGS='$(SAN_FLAGS) $(EXTRA_CFLAGS)' \
		EXTRA_LDFLAGS='$(SAN_FLAGS) $(EXTRA_LDFLAGS)' ZDEFS= \
		TEST_ENV='$(ASAN_ENV) CRAFT_TEST_QUICK=1' kv-test

tsan-kv: deps
	@$(MAKE) --no-print-directory BUILD=build-tsan \
		EXTRA_CFLAGS='$(TSAN_FLAGS) $(EXTRA_CFLAGS)' \
		EXTRA_LDFLAGS='$(TSAN_FLAGS) $(EXTRA_LDFLAGS)' ZDEFS= \
		TEST_ENV='$(TSAN_ENV) CRAFT_TEST_QUICK=1' kv-test
