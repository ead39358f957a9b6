# mk/fuzz.mk: fuzzing with libFuzzer.
#
# Included by the top-level Makefile; it uses its variables (BUILD, CC,
# BASE_CFLAGS, HOST_A, CHECKED_LIB_A, PROG_LIBS, ...).
#
# Every program here links the checked library (README.md, "Checked
# builds"): CRAFT_ASSERT must never fire on input, so an assertion the
# fuzzer reaches is a bug like a crash.
#
# Every tests/fuzz/fuzz_NAME.c is one target (LLVMFuzzerTestOneInput),
# with its seed corpus in tests/fuzz/corpus/NAME/ and every input that
# ever broke it in tests/fuzz/regress/NAME/ (kept forever).
#
#   make fuzz-replay   every corpus and regression input, once, through
#                      each target built with $(CC) and tests/fuzz/replay.c
#                      (no libFuzzer needed; part of make check)
#   make fuzz          each target under libFuzzer for FUZZ_SECONDS
#                      (default 300), clang -fsanitize=fuzzer,address,
#                      undefined, built in $(FUZZ_BUILD)/; new inputs go
#                      to $(FUZZ_BUILD)/corpus/NAME/, crashes to
#                      $(FUZZ_BUILD)/crashes/NAME/; prints executions and
#                      coverage per target
#   make fuzz-smoke    the corpora and regressions under libFuzzer, then a
#                      short, repeatable run per target: a fixed seed
#                      (FUZZ_SMOKE_SEED) and a fixed number of executions
#                      (FUZZ_SMOKE_RUNS_NAME, else FUZZ_SMOKE_RUNS), from
#                      an empty output corpus, so the same tree always
#                      runs the same inputs (in .ci/run: CI turns red on
#                      a change, never on a new random discovery; finding
#                      new inputs is `make fuzz`, with a random seed)
#   make fuzz-coverage line and branch coverage the corpora reach in the
#                      code each target feeds (clang source coverage,
#                      llvm-cov), built in $(FUZZ_BUILD)-cov/
#   make fuzz-seeds    rewrite the hand-made seeds (tests/fuzz/make_seeds.c)
#   make fuzz-merge    fold $(FUZZ_BUILD)/corpus/NAME/ into the seed
#                      corpus, keeping only inputs that add edges
#
# FUZZ_TARGETS limits any of these to some targets (names without fuzz_).

FUZZ_MAKE = $(MAKE) --no-print-directory

FUZZ_ALL     := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# The resp target feeds craft-kv's parser (examples/kv/resp.c), built into
# the target since the library does not contain it; a tree without
# examples/ (the ABI test's copy) has no such target.
ifeq ($(wildcard examples/kv/resp.c),)
FUZZ_ALL     := $(filter-out resp,$(FUZZ_ALL))
endif
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 300
# fuzz-smoke: about ten seconds per target on a quiet machine.
FUZZ_SMOKE_SEED ?= 1
FUZZ_SMOKE_RUNS ?= 20000
# A fixed seed is not enough for a repeatable run: libFuzzer takes values
# the program compares into its mutation dictionary, pointers among them,
# so address space randomization changes the inputs it tries. Without it
# (when the machine lets us turn it off) a run repeats exactly.
FUZZ_NO_ASLR := $(shell setarch $$(uname -m) -R true >/dev/null 2>&1 && \
                  echo setarch $$(uname -m) -R)
FUZZ_LLVM_COV      ?= llvm-cov-14
FUZZ_LLVM_PROFDATA ?= llvm-profdata-14
# Inputs of the engine target are event programs: give them room.
FUZZ_MAX_LEN_engine ?= 8192
FUZZ_MAX_LEN ?= 4096

FUZZ_SAN_COMPILE := -fsanitize=fuzzer-no-link,address,undefined \
                    -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SAN_LINK    := -fsanitize=fuzzer,address,undefined
FUZZ_COV_FLAGS   := -fprofile-instr-generate -fcoverage-mapping
FUZZ_CFLAGS = $(BASE_CFLAGS) -Itests/fuzz -DCRAFT_CHECKED $(CFLAGS) \
              $(EXTRA_CFLAGS)

# Which sources each target feeds, for fuzz-coverage.
FUZZ_COVERS_message := src/codec/message.c
FUZZ_COVERS_conf    := src/codec/conf.c
FUZZ_COVERS_engine  := src/engine
FUZZ_COVERS_storage := src/storage
FUZZ_COVERS_tcp     := src/transport/wire.c
FUZZ_COVERS_resp    := examples/kv/resp.c

FUZZ_OPTIONS = -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
               -max_len=$(or $(FUZZ_MAX_LEN_$(1)),$(FUZZ_MAX_LEN))

# ---- replay programs (any compiler; part of make check) -----------------

FUZZ_REPLAYS := $(FUZZ_ALL:%=$(BUILD)/fuzz/replay-%)

$(BUILD)/fuzz/%.o: tests/fuzz/%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# The resp target: the parser's source, compiled like the target.
$(BUILD)/fuzz/fuzz_resp.o: FUZZ_CFLAGS += -Iexamples/kv
$(BUILD)/fuzz/kv_resp.o: examples/kv/resp.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<
$(BUILD)/fuzz/replay-resp $(BUILD)/fuzz/fuzz-resp: $(BUILD)/fuzz/kv_resp.o

$(FUZZ_REPLAYS): $(BUILD)/fuzz/replay-%: $(BUILD)/fuzz/fuzz_%.o \
		$(BUILD)/fuzz/replay.o $(HOST_A) $(CHECKED_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$^ $(PROG_LIBS)

$(BUILD)/fuzz/make_seeds: $(BUILD)/fuzz/make_seeds.o $(CHECKED_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$^ $(PROG_LIBS)

-include $(FUZZ_ALL:%=$(BUILD)/fuzz/fuzz_%.d) $(BUILD)/fuzz/replay.d \
         $(BUILD)/fuzz/make_seeds.d

.PHONY: fuzz-replay fuzz-replays fuzz-seeds fuzz fuzz-smoke fuzz-bins fuzz-coverage \
        fuzz-cov-bins fuzz-merge fuzz-clean

fuzz-replays: $(FUZZ_REPLAYS) $(BUILD)/fuzz/make_seeds

# Rewrites the hand-made seeds (tests/fuzz/make_seeds.c).
fuzz-seeds: $(BUILD)/fuzz/make_seeds
	$(BUILD)/fuzz/make_seeds tests/fuzz/corpus

fuzz-replay: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay-%)
	@set -e; for t in $(FUZZ_TARGETS); do \
		$(BUILD)/fuzz/replay-$$t tests/fuzz/corpus/$$t tests/fuzz/regress/$$t; \
	done; echo "fuzz: every corpus and regression input held"

# ---- libFuzzer programs ---------------------------------------------------
#
# Built by a recursive make with BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC): the
# library itself is instrumented too, so coverage guides into it.

FUZZ_BINS := $(FUZZ_ALL:%=$(BUILD)/fuzz/fuzz-%)

$(FUZZ_BINS): $(BUILD)/fuzz/fuzz-%: $(BUILD)/fuzz/fuzz_%.o $(HOST_A) \
		$(CHECKED_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(FUZZ_SAN_LINK) -o $@ $^ $(PROG_LIBS)

fuzz-bins: deps
	@$(FUZZ_MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) ZDEFS= \
		EXTRA_CFLAGS='$(FUZZ_SAN_COMPILE) $(EXTRA_CFLAGS)' \
		$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/fuzz-%)

# $(1): target, $(2): seconds. Prints one summary line from libFuzzer's
# final statistics and its last status line.
define FUZZ_RUN
	mkdir -p $(FUZZ_BUILD)/corpus/$(1) $(FUZZ_BUILD)/crashes/$(1); \
	log=$(FUZZ_BUILD)/fuzz-$(1).log; \
	if $(FUZZ_BUILD)/fuzz/fuzz-$(1) $(call FUZZ_OPTIONS,$(1)) \
		-max_total_time=$(2) \
		-artifact_prefix=$(FUZZ_BUILD)/crashes/$(1)/ \
		$(FUZZ_BUILD)/corpus/$(1) tests/fuzz/corpus/$(1) \
		>$$log 2>&1; then \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1); \
		cov=$$(grep -E '^#[0-9]+' $$log | tail -n 1 | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 edges, \2 features, corpus \3/p'); \
		echo "fuzz $(1): $$execs executions in $(2) s, $$cov"; \
	else \
		tail -n 60 $$log; \
		echo "fuzz $(1): FAILED; the input is in $(FUZZ_BUILD)/crashes/$(1)/ (keep it in tests/fuzz/regress/$(1)/ once fixed)"; \
		exit 1; \
	fi
endef

fuzz: fuzz-bins
	@set -e; $(foreach t,$(FUZZ_TARGETS),$(call FUZZ_RUN,$(t),$(FUZZ_SECONDS));)

# $(1): target. The deterministic run of fuzz-smoke: new inputs go to a
# directory emptied first, so earlier runs cannot change what this one
# does.
define FUZZ_SMOKE_RUN
	out=$(FUZZ_BUILD)/smoke/$(1); rm -rf $$out; \
	mkdir -p $$out/corpus $$out/crashes; \
	log=$$out/log; runs=$(or $(FUZZ_SMOKE_RUNS_$(1)),$(FUZZ_SMOKE_RUNS)); \
	if $(FUZZ_NO_ASLR) $(FUZZ_BUILD)/fuzz/fuzz-$(1) $(call FUZZ_OPTIONS,$(1)) \
		-seed=$(FUZZ_SMOKE_SEED) -runs=$$runs -reload=0 \
		-artifact_prefix=$$out/crashes/ \
		$$out/corpus tests/fuzz/corpus/$(1) >$$log 2>&1; then \
		cov=$$(grep -E '^#[0-9]+' $$log | tail -n 1 | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 edges, \2 features, corpus \3/p'); \
		echo "fuzz-smoke $(1): $$runs executions (seed $(FUZZ_SMOKE_SEED)), $$cov"; \
	else \
		tail -n 60 $$log; \
		echo "fuzz-smoke $(1): FAILED; the input is in $$out/crashes/ (fix the bug, keep the input in tests/fuzz/regress/$(1)/)"; \
		exit 1; \
	fi
endef

# Replays every kept input under the sanitizers, then fuzzes briefly and
# repeatably.
fuzz-smoke: fuzz-bins
	@set -e; for t in $(FUZZ_TARGETS); do \
		dirs=tests/fuzz/corpus/$$t; \
		if [ -d tests/fuzz/regress/$$t ]; then dirs="$$dirs tests/fuzz/regress/$$t"; fi; \
		$(FUZZ_BUILD)/fuzz/fuzz-$$t -runs=0 $$dirs \
			>$(FUZZ_BUILD)/replay-$$t.log 2>&1 \
			|| { tail -n 40 $(FUZZ_BUILD)/replay-$$t.log; \
			     echo "fuzz-smoke $$t: a kept input fails"; exit 1; }; \
	done; echo "fuzz-smoke: every corpus and regression input held"
	@set -e; $(foreach t,$(FUZZ_TARGETS),$(call FUZZ_SMOKE_RUN,$(t));)

# Edges only (-use_counters=0): the smallest set of inputs that reaches
# every edge the corpora reach, so the repository keeps few files.
fuzz-merge: fuzz-bins
	@set -e; $(foreach t,$(FUZZ_TARGETS),\
		mkdir -p tests/fuzz/corpus/$(t); \
		$(FUZZ_BUILD)/fuzz/fuzz-$(t) -merge=1 -use_counters=0 \
			-max_len=$(or $(FUZZ_MAX_LEN_$(t)),$(FUZZ_MAX_LEN)) \
			tests/fuzz/corpus/$(t) $(FUZZ_BUILD)/corpus/$(t) 2>&1 \
			| sed -n 's/^MERGE-OUTER: \([0-9]* new files.*\)/fuzz-merge $(t): \1/p';)

# ---- source coverage of the corpora ---------------------------------------

FUZZ_COV_BUILD := $(FUZZ_BUILD)-cov

fuzz-cov-bins: deps
	@$(FUZZ_MAKE) BUILD=$(FUZZ_COV_BUILD) CC=$(FUZZ_CC) ZDEFS= \
		EXTRA_CFLAGS='$(FUZZ_COV_FLAGS) $(EXTRA_CFLAGS)' \
		EXTRA_LDFLAGS='$(FUZZ_COV_FLAGS) $(EXTRA_LDFLAGS)' \
		$(FUZZ_TARGETS:%=$(FUZZ_COV_BUILD)/fuzz/replay-%)

# Runs the seed corpus plus what `make fuzz` found (FUZZ_COV_CORPUS=seed
# for the seeds alone) and prints llvm-cov's totals for the sources the
# target feeds.
FUZZ_COV_CORPUS ?= all
fuzz-coverage: fuzz-cov-bins
	@set -e; $(foreach t,$(FUZZ_TARGETS),$(call FUZZ_COV_RUN,$(t));)

# $(1): target.
define FUZZ_COV_RUN
	dirs="tests/fuzz/corpus/$(1) tests/fuzz/regress/$(1)"; \
	if [ '$(FUZZ_COV_CORPUS)' = all ]; then dirs="$$dirs $(FUZZ_BUILD)/corpus/$(1)"; fi; \
	rm -f $(FUZZ_COV_BUILD)/$(1).profraw; \
	LLVM_PROFILE_FILE=$(FUZZ_COV_BUILD)/$(1).profraw \
		$(FUZZ_COV_BUILD)/fuzz/replay-$(1) $$dirs >/dev/null; \
	$(FUZZ_LLVM_PROFDATA) merge -sparse -o $(FUZZ_COV_BUILD)/$(1).profdata \
		$(FUZZ_COV_BUILD)/$(1).profraw; \
	echo "fuzz-coverage $(1) ($(FUZZ_COVERS_$(1))):"; \
	$(FUZZ_LLVM_COV) report $(FUZZ_COV_BUILD)/fuzz/replay-$(1) \
		-instr-profile=$(FUZZ_COV_BUILD)/$(1).profdata $(FUZZ_COVERS_$(1)) \
		| tail -n 1 | awk '{ printf "  regions %s, functions %s, lines %s, branches %s\n", $$4, $$7, $$10, $$13 }'
endef

fuzz-clean:
	rm -rf $(BUILD)/fuzz $(FUZZ_BUILD) $(FUZZ_COV_BUILD)

clean: fuzz-clean
