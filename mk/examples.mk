# mk/examples.mk: the programs of examples/, built the way a user builds
# them: against the public headers only (no -Isrc), linked with
# libcraft.a.
#
#   make examples        build $(BUILD)/examples/NAME (part of `make`)
#   make examples-test   run each one; it fails the suite unless it exits 0
#                        (part of make check)

EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLES     := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))
EXAMPLE_CFLAGS = -std=c11 $(WARNINGS) -D_DEFAULT_SOURCE -Iinclude $(CFLAGS) \
                 $(EXTRA_CFLAGS)

$(BUILD)/examples/%.o: examples/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(EXAMPLE_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(EXAMPLES): $(BUILD)/examples/%: $(BUILD)/examples/%.o $(LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(LIB_A) $(PROG_LIBS)

-include $(EXAMPLES:=.d)

.PHONY: examples examples-test

examples: $(EXAMPLES)

# The last line is "examples: N passed, N failed".
examples-test: $(EXAMPLES)
	@pass=0; fail=0; for x in $(EXAMPLES); do \
		echo "== $$x"; \
		if $(TEST_WRAPPER) $$x; then pass=$$((pass + 1)); \
		else echo "FAILED: $$x"; fail=$$((fail + 1)); fi; \
	done; echo "examples: $$pass passed, $$fail failed"; test $$fail = 0
