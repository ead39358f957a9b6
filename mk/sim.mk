# mk/sim.mk: the simulator's tests, soak and benchmark.
#
# Included by the top-level Makefile; it uses its variables (BUILD, CC,
# LIB_CFLAGS, TEST_CFLAGS, LIB_SRCS, SIM_SRCS, SIM_A, LIB_A, CHECK_LIBS,
# ...).
#
#   make sim-test    the Check programs of tests/sim (determinism, every
#                    invariant on a corrupted state, the linearizability
#                    checker, the planted bugs), then craft-sim over a few
#                    hundred seeds of every profile; a few minutes
#   make soak        many more seeds and steps, every profile and cluster
#                    size (SOAK_SEEDS, SOAK_STEPS to taste)
#   make sim-bench   steps/s of 5 nodes, default profile, every invariant
#                    on (a benchmark, not a test)
#   make sim-asan    sim-test's Check programs under ASan + UBSan
#                    (defined in mk/sanitize.mk)
#   make sim-crosscheck  the same seeds give the same trace hash with gcc
#                    and clang (builds $(BUILD)-xclang/)
#   make lincheck-test  craft-lincheck on histories of known verdict
#                    (tests/lincheck) and on the simulator's histories
#   make sim-rules   the batteries of Raft's rules (Figure 8, ReadIndex
#                    rounds, leases, snapshots, calm phases) over
#                    SIM_RULES_SEEDS seeds (200); sim-test runs 10
#   make sim-hunt    the batteries that once found engine bugs (fixed
#                    since), many more seeds than sim-test gives them
#
# The planted-bug build: every library and simulator object compiled
# again with -DCRAFT_PLANTED_BUGS into $(BUILD)-bugs/ (never part of a
# release build). Unlike every other simulator build it is not checked
# (no CRAFT_CHECKED): the planted bugs break the engine's invariants on
# purpose, and the simulator's own checks, not CRAFT_ASSERT, must find
# them. It has its own craft-sim and the planted_bugs test.


SIM_TEST_SRCS := $(wildcard tests/sim/test_*.c)
SIM_TESTS     := $(patsubst tests/sim/%.c,$(BUILD)/sim/%,$(SIM_TEST_SRCS))
SIM_TEST_CFLAGS = $(TEST_CFLAGS) -Itests/sim
SIM_CRAFT_SIM := $(BUILD)/craft-sim

# ---- the planted-bug build ----------------------------------------------

SIM_BUGS_BUILD   := $(BUILD)-bugs
SIM_BUGS_CFLAGS   = $(LIB_CFLAGS) -DCRAFT_PLANTED_BUGS
SIM_BUGS_LIB_OBJS := $(LIB_SRCS:%.c=$(SIM_BUGS_BUILD)/%.o)
SIM_BUGS_SIM_OBJS := $(SIM_SRCS:%.c=$(SIM_BUGS_BUILD)/%.o)
SIM_BUGS_LIB_A   := $(SIM_BUGS_BUILD)/libcraft.a
SIM_BUGS_SIM_A   := $(SIM_BUGS_BUILD)/libcraft-sim.a
SIM_BUGS_TOOL    := $(SIM_BUGS_BUILD)/craft-sim
SIM_BUGS_TEST    := $(SIM_BUGS_BUILD)/sim/planted_bugs

$(SIM_BUGS_LIB_OBJS) $(SIM_BUGS_SIM_OBJS) $(SIM_BUGS_BUILD)/src/tools/craft-sim.o: \
		$(SIM_BUGS_BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $< (planted bugs)')
	$(Q)$(CC) $(SIM_BUGS_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(SIM_BUGS_BUILD)/sim/planted_bugs.o: tests/sim/planted_bugs.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $< (planted bugs)')
	$(Q)$(CC) $(filter-out -DCRAFT_CHECKED,$(SIM_TEST_CFLAGS)) \
		-DCRAFT_PLANTED_BUGS $(DEPFLAGS) -c -o $@ $<

$(SIM_BUGS_LIB_A): $(SIM_BUGS_LIB_OBJS)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(SIM_BUGS_SIM_A): $(SIM_BUGS_SIM_OBJS)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(SIM_BUGS_TOOL): $(SIM_BUGS_BUILD)/src/tools/craft-sim.o $(SIM_BUGS_SIM_A) $(HOST_A) \
		$(SIM_BUGS_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(SIM_BUGS_SIM_A) $(HOST_A) $(SIM_BUGS_LIB_A) $(PROG_LIBS)

$(SIM_BUGS_TEST): $(SIM_BUGS_TEST).o $(SIM_BUGS_SIM_A) $(HOST_A) \
		$(SIM_BUGS_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(SIM_BUGS_SIM_A) $(HOST_A) $(SIM_BUGS_LIB_A) $(CHECK_LIBS) \
		$(PROG_LIBS)

# ---- the Check programs ---------------------------------------------------

$(BUILD)/sim/test_%.o: tests/sim/test_%.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(SIM_TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(SIM_TESTS): $(BUILD)/sim/%: $(BUILD)/sim/%.o $(SIM_A) $(HOST_A) \
		$(CHECKED_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(SIM_A) $(HOST_A) $(CHECKED_LIB_A) $(CHECK_LIBS) $(PROG_LIBS)

-include $(SIM_TESTS:%=%.d) $(SIM_BUGS_TEST).d \
         $(SIM_BUGS_LIB_OBJS:.o=.d) $(SIM_BUGS_SIM_OBJS:.o=.d) \
         $(SIM_BUGS_BUILD)/src/tools/craft-sim.d

# ---- targets ------------------------------------------------------------

.PHONY: sim-tests sim-test sim-checks sim-seeds sim-planted-cli soak \
        sim-bench sim-crosscheck sim-hunt sim-clean sim-lease sim-rules \
        lincheck-test

sim-tests: $(SIM_TESTS) $(SIM_BUGS_TEST) $(SIM_CRAFT_SIM) $(SIM_BUGS_TOOL)

# Seeds run by sim-test: "profile nodes seeds steps", a few hundred seeds
# in all, including the one- and two-voter clusters where self-removal
# used to deadlock elections.
SIM_TEST_RUNS ?= default:5:300:200000 heavy:3:40:200000 \
                 member:5:40:200000 snapshot:3:40:200000 crash:7:40:200000 \
                 net:9:40:200000 calm:3:20:100000 default:1:20:200000 \
                 heavy:2:40:200000

sim-test: sim-tests
	@$(MAKE) --no-print-directory sim-checks
	@$(MAKE) --no-print-directory sim-planted-cli
	@$(MAKE) --no-print-directory sim-seeds
	@$(MAKE) --no-print-directory sim-lease
	@$(MAKE) --no-print-directory sim-rules SIM_RULES_SEEDS=$(SIM_TEST_RULES_SEEDS)
	@$(MAKE) --no-print-directory lincheck-test

# craft-lincheck (the checker as a tool reading history files) on
# histories of known verdict, and against the simulator's own verdict.
lincheck-test: $(SIM_CRAFT_SIM) $(BUILD)/craft-lincheck $(SIM_BUGS_TOOL)
	@sh tests/lincheck/run.sh $(BUILD) $(SIM_BUGS_BUILD)

# The batteries of Raft's rules that once went unchecked (each has a
# planted bug in tests/sim/planted_bugs.c that it must catch):
#  - Figure 8: leaders cut off mid-replication and back (3 and 5 nodes);
#  - ReadIndex rounds: every get through ReadIndex, no leases, long
#    delays and one-way cuts;
#  - leases: every get through ReadIndex with leases on, partitions and
#    8% drops;
#  - snapshots: catch-up by snapshot after partitions, crashes and leaders
#    cut off with entries no one else holds;
#  - calm phases 200 ticks long, so the calm checks (no term rise with
#    pre-vote, catch-up in bounded round trips) watch long windows.
SIM_RULES ?= "--profile figure8 --nodes 3" "--profile figure8 --nodes 5" \
             "--profile net --read 1 --lease 0 --delay 0.05 --asym 0.05" \
             "--profile net --read 1 --lease 1 --drop 0.08 --partition 0.02" \
             "--profile snapshot --nodes 3 --isolate 0.05 --crash 0.02 --partition 0.02" \
             "--profile default --calm 200" "--profile member --calm 200" \
             "--profile crash --nodes 3 --calm 200"
SIM_RULES_SEEDS ?= 200
SIM_TEST_RULES_SEEDS ?= 10

sim-rules: $(SIM_CRAFT_SIM)
	@set -e; for b in $(SIM_RULES); do \
		echo "== craft-sim $$b --seeds $(SIM_RULES_SEEDS)"; \
		out=$$($(SIM_CRAFT_SIM) $$b --seeds $(SIM_RULES_SEEDS) \
			--steps 200000 --seed 1 --quiet) || { echo "$$out"; exit 1; }; \
		echo "$$out" | grep -E '^  (steps|violations)'; \
	done; echo "sim: every rule battery held"

# Lease reads with leadership transfers: a lease used after TimeoutNow
# served stale reads before the engine revoked it for the term.
sim-lease: $(SIM_CRAFT_SIM)
	@$(SIM_CRAFT_SIM) --nodes 3 --lease 1 --transfer 0.05 --delay 0.03 \
		--asym 0.02 --seeds 60 --seed 777 --steps 200000 --quiet \
		| grep -E '^  (steps|violations)'

sim-checks: $(SIM_TESTS) $(SIM_BUGS_TEST)
	@$(TEST_ENV) sh tests/run-checks.sh -l sim -w '$(TEST_WRAPPER)' \
		$(SIM_TESTS) $(SIM_BUGS_TEST)

# The command line end to end: a planted bug makes craft-sim fail, print
# the seed and the replay command, and the replay fails the same way.
sim-planted-cli: $(SIM_BUGS_TOOL)
	@set -e; out=$$($(SIM_BUGS_TOOL) --bug 1 --seeds 3 --steps 50000 --quiet) \
		&& { echo "sim: planted bug 1 was not reported"; exit 1; } || true; \
	echo "$$out" | grep -q '^VIOLATION of commit only what a quorum stores' \
		|| { echo "$$out"; echo "sim: wrong report for planted bug 1"; exit 1; }; \
	spec=$$(echo "$$out" | sed -n "s/^replay: .* --replay '\(.*\)'$$/\1/p"); \
	echo "$$spec" | grep -q 'seed=0x' || { echo "sim: no seed in: $$out"; exit 1; }; \
	again=$$($(SIM_BUGS_TOOL) --replay "$$spec" --quiet) && exit 1 || true; \
	test "$$(echo "$$out" | sed -n 2p)" = "$$(echo "$$again" | sed -n 2p)"; \
	echo "sim: planted bug 1 reported with its seed; replay '$$spec' reproduces it"

sim-seeds: $(SIM_CRAFT_SIM)
	@set -e; for run in $(SIM_TEST_RUNS); do \
		p=$${run%%:*}; r=$${run#*:}; n=$${r%%:*}; r=$${r#*:}; \
		k=$${r%%:*}; st=$${r#*:}; \
		echo "== craft-sim --profile $$p --nodes $$n --seeds $$k --steps $$st"; \
		$(SIM_CRAFT_SIM) --profile $$p --nodes $$n --seeds $$k --steps $$st \
			--seed 1 --quiet; \
	done; echo "sim: every seed held every check"

SOAK_SEEDS ?= 1000
SOAK_STEPS ?= 500000
SOAK_SEED  ?= 1000001
SOAK_PROFILES ?= default heavy net crash member snapshot
SOAK_NODES ?= 1 2 3 5 7 9

# Keeps going after a violation, so one run lists every failing seed.
soak: $(SIM_CRAFT_SIM)
	@status=0; for p in $(SOAK_PROFILES); do for n in $(SOAK_NODES); do \
		echo "== soak: profile $$p, $$n nodes"; \
		$(SIM_CRAFT_SIM) --profile $$p --nodes $$n --seeds $(SOAK_SEEDS) \
			--steps $(SOAK_STEPS) --seed $(SOAK_SEED) --keep-going \
			--quiet || status=1; \
	done; done; exit $$status

SIM_BENCH_STEPS ?= 20000000

# 5 nodes, the default profile (every fault kind), every invariant on.
sim-bench: $(SIM_CRAFT_SIM)
	$(SIM_CRAFT_SIM) --nodes 5 --profile default --seed 1 \
		--steps $(SIM_BENCH_STEPS)

# Each line: craft-sim options of a battery that found an engine bug
# (each fixed since):
#  - a leader that removes itself from a 2-voter configuration and loses
#    leadership before the removal replicates: no one can be elected;
#  - a vote request of a stale term gets no answer, so a candidate that
#    hears from nobody else never learns the term it must exceed;
#  - lease reads after a leadership transfer timed out are stale: the
#    TimeoutNow let the target win by bypassing leader stickiness.
SIM_HUNTS ?= "--nodes 1 --profile default --seeds 20 --steps 200000" \
             "--nodes 2 --profile heavy --seeds 300 --seed 10000 --steps 300000" \
             "--nodes 3 --lease 1 --transfer 0.05 --delay 0.03 --asym 0.02 --seeds 400 --seed 777 --steps 300000"

sim-hunt: $(SIM_CRAFT_SIM)
	@status=0; for h in $(SIM_HUNTS); do \
		echo "== craft-sim $$h"; \
		out=$$($(SIM_CRAFT_SIM) $$h --keep-going --quiet) || status=1; \
		echo "$$out" | grep -A1 -E '^(VIOLATION|  violations)' || true; \
	done; exit $$status

SIM_XCC ?= clang
SIM_XBUILD := $(BUILD)-xclang

# A run must not depend on the compiler (evaluation order, optimizer).
sim-crosscheck: $(SIM_CRAFT_SIM)
	@$(MAKE) --no-print-directory CC=$(SIM_XCC) BUILD=$(SIM_XBUILD) $(SIM_XBUILD)/craft-sim
	@set -e; for seed in 1 2 3; do \
		a=$$($(SIM_CRAFT_SIM) --seed $$seed --steps 100000 --quiet | grep 'trace hash'); \
		b=$$($(SIM_XBUILD)/craft-sim --seed $$seed --steps 100000 --quiet | grep 'trace hash'); \
		echo "seed $$seed: $(CC)$$a / $(SIM_XCC)$$b"; \
		test "$$a" = "$$b"; \
	done; echo "sim: same traces with $(CC) and $(SIM_XCC)"

sim-clean:
	rm -rf $(BUILD)/sim $(SIM_BUGS_BUILD) $(SIM_XBUILD)

clean: sim-clean
