# mk/chaos.mk: process-level faults on a 3-process craft-kv cluster
# (tests/chaos/): SIGKILL and restart, SIGSTOP/SIGCONT of the leader,
# one-way and two-way network cuts through a fault-injecting TCP proxy
# between the nodes' Raft ports, failing fsyncs and a full disk, wall
# clock jumps (an LD_PRELOAD shim), under concurrent clients whose
# history craft-lincheck checks.
#
# Included by the top-level Makefile; uses its variables (BUILD, CC).
#
#   make chaos         CHAOS_SECONDS (300) with ReadIndex reads, then as
#                      long with lease reads (craft-kv --lease-reads)
#   make chaos-smoke   the short version in .ci/run: 40 s of each, every
#                      kind of fault in each
#   CHAOS_SEED=N       the fault schedule and the workload (default 1)
#   CHAOS_ARGS=...     more options of tests/chaos/chaos.py (--help)
#
# Each run leaves the servers' logs and the history in
# $(BUILD)/chaos/<mode>/ and prints a report; any anomaly fails the target.

# The driver needs only the Python 3 standard library.
DEPS_PKGS += python3

CHAOS_SHIM    := $(BUILD)/chaos/libfaultshim.so
CHAOS_SECONDS ?= 300
CHAOS_SEED    ?= 1
CHAOS_ARGS    ?=
CHAOS_RUN = python3 tests/chaos/chaos.py --bin $(KV_BIN) \
	--lincheck $(BUILD)/craft-lincheck --shim $(CHAOS_SHIM) \
	--seed $(CHAOS_SEED) $(CHAOS_ARGS)

# The shim is preloaded into craft-kv: a plain shared object, built
# without the sanitizers a build may carry.
$(CHAOS_SHIM): tests/chaos/faultshim.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared -o $@ $< -ldl

# The smoke runs: shorter faults and calms, so that each run of 40 s
# goes through every kind of fault once (the schedule deals each kind
# once per round).
CHAOS_SMOKE = --seconds 40 --fault-min 1 --fault-max 2.5 --calm-min 0.5 \
	--calm-max 1.5

.PHONY: chaos chaos-smoke chaos-deps
chaos-deps: $(KV_BIN) $(BUILD)/craft-lincheck $(CHAOS_SHIM)

chaos: chaos-deps
	$(CHAOS_RUN) --seconds $(CHAOS_SECONDS) --dir $(BUILD)/chaos/readindex
	$(CHAOS_RUN) --seconds $(CHAOS_SECONDS) --dir $(BUILD)/chaos/lease --lease

chaos-smoke: chaos-deps
	$(CHAOS_RUN) $(CHAOS_SMOKE) --dir $(BUILD)/chaos/smoke-readindex
	$(CHAOS_RUN) $(CHAOS_SMOKE) --dir $(BUILD)/chaos/smoke-lease --lease
