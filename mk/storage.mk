# mk/storage.mk: the file storage's tests (tests/storage/).
#
# Included by the top-level Makefile; uses its variables (BUILD, CC,
# TEST_CFLAGS, CHECKED_LIB_A, CHECK_LIBS, SAN_FLAGS, ...). The programs
# link the checked libcraft.a (README.md, "Checked builds"), so they reach the internal I/O hook (src/storage/io.h) and
# can read what a node loaded.
#
#   make storage-test       tests/storage/test_*.c (Check programs): the
#                           craft_storage_ops conformance suite (memory and
#                           file storage), file storage specifics, fault
#                           injection with a crash at every write and
#                           sync, SIGKILLed processes
#   make integration-file-test  the runtime's tests (tests/integration)
#                           with every node on the file storage
#   make asan-storage       both under ASan + UBSan (build-asan/)
#   make tsan-storage       the runtime's tests on the file storage under
#                           ThreadSanitizer (build-tsan/)
#   make bench-storage      tests/bench/bench_storage.c (also in make bench)
#   make bench-storage-long the long run: >= 10 million entries with
#                           snapshots and compaction, ops/s per minute
#
# Programs go to $(BUILD)/storage/.

STORAGE_TEST_SRCS := $(wildcard tests/storage/test_*.c)
STORAGE_TESTS     := $(patsubst tests/storage/%.c,$(BUILD)/storage/%,$(STORAGE_TEST_SRCS))
STORAGE_TEST_CFLAGS = $(TEST_CFLAGS) -Itests/storage

$(BUILD)/storage/test_%.o: tests/storage/test_%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(STORAGE_TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(STORAGE_TESTS): $(BUILD)/storage/%: $(BUILD)/storage/%.o $(CHECKED_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(CHECKED_LIB_A) $(CHECK_LIBS) $(PROG_LIBS)

-include $(STORAGE_TESTS:=.d)

.PHONY: storage-test storage-tests integration-file-test asan-storage \
        tsan-storage bench-storage bench-storage-long

storage-tests: $(STORAGE_TESTS)

# The last line is "storage: N passed, N failed". test_inspect runs the
# craft-inspect program.
storage-test: $(STORAGE_TESTS) $(BUILD)/craft-inspect
	@$(TEST_ENV) CRAFT_INSPECT=$(BUILD)/craft-inspect \
		sh tests/run-checks.sh -l storage -w '$(TEST_WRAPPER)' \
		$(STORAGE_TESTS)

# The runtime's tests (mk/integration.mk) again, every node on the file
# storage (tests/integration/node_harness.h); the last line is
# "integration-file: N passed, N failed".
integration-file-test: $(NODE_TESTS)
	@$(TEST_ENV) CRAFT_TEST_STORAGE=file \
		sh tests/run-checks.sh -l integration-file -w '$(TEST_WRAPPER)' \
		$(NODE_TESTS)

# Under the sanitizers as mk/sanitize.mk defines them: the storage's
# tests and the runtime's on the file storage.
asan-storage: deps
	@$(call asan_make,storage-test integration-file-test)

tsan-storage: deps
	@$(call tsan_make,integration-file-test)

bench-storage: $(BUILD)/bench_storage
	$(BUILD)/bench_storage

bench-storage-long: $(BUILD)/bench_storage
	$(BUILD)/bench_storage --long
