# mk/integration.mk: the runtime's tests (tests/integration/test_*.c).
#
# Each is a Check program linked against the checked libcraft.a only: the
# runtime needs nothing else. They run under `make check`; mk/sanitize.mk runs
# them under TSan, ASan + UBSan and valgrind.
#
#   make integration-test      build $(BUILD)/node/test_* and run them
#
# Programs go to $(BUILD)/node/.


NODE_TEST_SRCS := $(wildcard tests/integration/test_*.c)
NODE_TESTS     := $(patsubst tests/integration/%.c,$(BUILD)/node/%,$(NODE_TEST_SRCS))
NODE_TEST_CFLAGS = $(TEST_CFLAGS) -Itests/integration

$(BUILD)/node/test_%.o: tests/integration/test_%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(NODE_TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(NODE_TESTS): $(BUILD)/node/%: $(BUILD)/node/%.o $(CHECKED_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(CHECKED_LIB_A) $(CHECK_LIBS) $(PROG_LIBS)

-include $(NODE_TESTS:%=%.d)

.PHONY: integration-test node-tests

node-tests: $(NODE_TESTS)

# The last line is "integration: N passed, N failed".
integration-test: $(NODE_TESTS)
	@$(TEST_ENV) sh tests/run-checks.sh -l integration -w '$(TEST_WRAPPER)' \
		$(NODE_TESTS)
