# craft: build, test and install.
#
# GNU make. `make help` lists the targets. The version is defined once, in
# include/craft.h, and read from there.
#
# User knobs (command line or environment):
#   CC, AR               compiler and archiver (default cc, ar)
#   CFLAGS               optimisation and debug flags (default -O2 -g)
#   EXTRA_CFLAGS         added after every other compile flag
#   LDFLAGS, EXTRA_LDFLAGS  added to every link
#   BUILD                output directory (default build)
#   PREFIX, LIBDIR, INCLUDEDIR, PKGCONFIGDIR, DESTDIR  for install/uninstall
#   V=1                  print every command

SHELL := /bin/sh

# ---------------------------------------------------------------------------
# Version, read from include/craft.h (the only place it is defined).

HEADER := include/craft.h
craft_define = $(shell sed -n 's/^[[:space:]]*.[[:space:]]*define[[:space:]][[:space:]]*$(1)[[:space:]][[:space:]]*\([0-9][0-9]*\).*/\1/p' $(HEADER))
VERSION_MAJOR := $(call craft_define,CRAFT_VERSION_MAJOR)
VERSION_MINOR := $(call craft_define,CRAFT_VERSION_MINOR)
VERSION_PATCH := $(call craft_define,CRAFT_VERSION_PATCH)
ABI_VERSION   := $(call craft_define,CRAFT_ABI_VERSION)
VERSION       := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
VERSION_STRING := $(shell sed -n 's/^[[:space:]]*.[[:space:]]*define[[:space:]][[:space:]]*CRAFT_VERSION_STRING[[:space:]][[:space:]]*"\([^"]*\)".*/\1/p' $(HEADER))

ifeq ($(strip $(VERSION_MAJOR)),)
$(error cannot read CRAFT_VERSION_MAJOR from $(HEADER))
endif
ifeq ($(strip $(ABI_VERSION)),)
$(error cannot read CRAFT_ABI_VERSION from $(HEADER))
endif
ifneq ($(VERSION),$(VERSION_STRING))
$(error $(HEADER): CRAFT_VERSION_STRING "$(VERSION_STRING)" does not match the numbers $(VERSION))
endif

# ---------------------------------------------------------------------------
# Tools and flags.

BUILD   ?= build
CC      ?= cc
AR      ?= ar
CFLAGS  ?= -O2 -g
EXTRA_CFLAGS  ?=
LDFLAGS ?=
EXTRA_LDFLAGS ?=
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
else
Q := @
endif

WARNINGS := -Wall -Wextra -Werror
# Flags every C file of the project is compiled with.
BASE_CFLAGS := -std=c11 $(WARNINGS) -D_DEFAULT_SOURCE -Iinclude -Isrc
# The library (and the sim/tools code that shares its internals).
LIB_CFLAGS := $(BASE_CFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden \
              -DCRAFT_BUILDING $(EXTRA_CFLAGS)
DEPFLAGS := -MMD -MP

# Checked builds (src/util/assert.h): CRAFT_CHECKED turns CRAFT_ASSERT
# on. The library is compiled twice: as released (libcraft.so,
# libcraft.a: assertions compiled out) and checked ($(BUILD)/checked/
# libcraft.a), which every program that tests it links: the unit, runtime
# and simulator tests and craft-sim. Benchmarks and the demo link the
# release archive.
CHECKED_CFLAGS = $(LIB_CFLAGS) -DCRAFT_CHECKED

CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
TEST_CFLAGS  = $(BASE_CFLAGS) -Itests/unit -DCRAFT_CHECKED $(CFLAGS) \
               $(CHECK_CFLAGS) $(EXTRA_CFLAGS)
BENCH_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)

MAPFILE   := abi/libcraft.map
ABI_BASELINE := abi/libcraft.abi
SONAME    := libcraft.so.$(ABI_VERSION)
# -z defs: an unresolved symbol in the shared library is a link error.
# (Sanitizer runtimes of clang are not linked into shared objects, hence
# the knob.)
ZDEFS     ?= -Wl,-z,defs
LIB_LDFLAGS := -shared -Wl,--version-script=$(MAPFILE) -Wl,-soname,$(SONAME) \
               $(ZDEFS)
LIB_LIBS  := -lpthread
PROG_LIBS := -lpthread -lm

# ---------------------------------------------------------------------------
# Sources. Every directory may be empty or missing.

LIB_SRCS   ?= $(wildcard src/util/*.c src/codec/*.c src/engine/*.c src/node/*.c \
                          src/storage/*.c src/transport/*.c)
SIM_SRCS   ?= $(wildcard src/sim/*.c)
# The reference host (src/host/host.h): tests and tools only.
HOST_SRCS  ?= $(wildcard src/host/*.c)
TOOL_SRCS  ?= $(wildcard src/tools/*.c)
UNIT_SRCS  ?= $(wildcard tests/unit/test_*.c)
# Benchmarks: one program per file, built by `make check`, run by `make
# bench` (never by a test).
BENCH_SRCS ?= $(wildcard tests/bench/bench_*.c)

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CHECKED_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/checked/%.o)
SIM_OBJS  := $(SIM_SRCS:%.c=$(BUILD)/%.o)
HOST_OBJS := $(HOST_SRCS:%.c=$(BUILD)/%.o)
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/%.o)

LIB_SO     := $(BUILD)/libcraft.so.$(VERSION)
LIB_SONAME := $(BUILD)/$(SONAME)
LIB_DEVSO  := $(BUILD)/libcraft.so
LIB_A      := $(BUILD)/libcraft.a
CHECKED_LIB_A := $(BUILD)/checked/libcraft.a
SIM_A      := $(if $(SIM_SRCS),$(BUILD)/libcraft-sim.a)
HOST_A     := $(BUILD)/libcraft-host.a
TOOLS      := $(patsubst src/tools/%.c,$(BUILD)/%,$(TOOL_SRCS))
# Tools that use the simulator library (craft-sim, and craft-lincheck for
# its checker) are checked builds.
CHECKED_TOOLS := $(filter $(BUILD)/craft-sim $(BUILD)/craft-lincheck,$(TOOLS))
UNIT_TESTS := $(UNIT_SRCS:%.c=$(BUILD)/%)
BENCHES    := $(patsubst tests/bench/%.c,$(BUILD)/%,$(BENCH_SRCS))

# Rebuild everything when the compiler or a flag changes (the stamp file
# is rewritten only when its content would change).
FLAGS_STAMP := $(BUILD)/.flags
FLAGS_NOW = $(CC) | $(LIB_CFLAGS) | $(TEST_CFLAGS) | $(LDFLAGS) $(EXTRA_LDFLAGS) | $(ZDEFS)
# Relink the libraries when a source file is added or removed.
OBJS_STAMP := $(BUILD)/.objects
OBJS_NOW = $(LIB_OBJS) | $(SIM_OBJS) | $(HOST_OBJS)

# ---------------------------------------------------------------------------
# Install locations.

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=
INSTALL      ?= install

# ---------------------------------------------------------------------------
# Debian packages the build and the tests need (`make deps`).

DEPS_PKGS := gcc g++ make binutils libc6-dev pkg-config check libsubunit-dev \
             clang valgrind libffi-dev abigail-tools libclang-rt-14-dev llvm-14 libclang-dev \
             redis-server redis-tools

# Compilers the header test uses.
HEADER_CCS  ?= gcc clang
HEADER_CXXS ?= g++ clang++

# Wraps each test program (e.g. valgrind); environment for them.
TEST_WRAPPER ?=
TEST_ENV     ?=

.DEFAULT_GOAL := all

# ---------------------------------------------------------------------------
# Build.

.PHONY: all lib checked tools sim host tests benches
all: lib tools examples

lib: $(LIB_SO) $(LIB_SONAME) $(LIB_DEVSO) $(LIB_A)
checked: $(CHECKED_LIB_A)
sim: $(SIM_A)
host: $(HOST_A)
tools: $(TOOLS)
tests: $(UNIT_TESTS)
benches: $(BENCHES)

$(FLAGS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(FLAGS_NOW)' | cmp -s - $@ || echo '$(FLAGS_NOW)' > $@

$(OBJS_STAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(OBJS_NOW)' | cmp -s - $@ || echo '$(OBJS_NOW)' > $@

# The reference host uses only the public API and the codec's types, so
# one build of it links with either library.
$(LIB_OBJS) $(TOOL_OBJS) $(HOST_OBJS): $(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# The simulator only ever runs checked engines.
$(CHECKED_LIB_OBJS): $(BUILD)/checked/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $< (checked)')
	$(Q)$(CC) $(CHECKED_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(SIM_OBJS): $(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(CHECKED_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(TEST_OBJS): $(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BENCH_OBJS): $(BUILD)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(BENCH_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(LIB_SO): $(LIB_OBJS) $(MAPFILE) $(OBJS_STAMP)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) \
		$(LIB_LDFLAGS) -o $@ $(LIB_OBJS) $(LIB_LIBS)

$(LIB_SONAME): $(LIB_SO)
	$(Q)ln -sf $(notdir $<) $@

$(LIB_DEVSO): $(LIB_SONAME)
	$(Q)ln -sf $(notdir $<) $@

$(LIB_A): $(LIB_OBJS) $(OBJS_STAMP)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $(LIB_OBJS)

$(CHECKED_LIB_A): $(CHECKED_LIB_OBJS) $(OBJS_STAMP)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $(CHECKED_LIB_OBJS)

$(BUILD)/libcraft-sim.a: $(SIM_OBJS) $(OBJS_STAMP)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $(SIM_OBJS)

$(HOST_A): $(HOST_OBJS) $(OBJS_STAMP)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $(HOST_OBJS)

# Programs link the static archives, so they can reach internal symbols.
$(filter-out $(CHECKED_TOOLS),$(TOOLS)): $(BUILD)/%: $(BUILD)/src/tools/%.o \
		$(HOST_A) $(LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(HOST_A) $(LIB_A) $(PROG_LIBS)

$(CHECKED_TOOLS): $(BUILD)/%: $(BUILD)/src/tools/%.o $(SIM_A) $(HOST_A) \
		$(CHECKED_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(SIM_A) $(HOST_A) $(CHECKED_LIB_A) $(PROG_LIBS)

$(UNIT_TESTS): $(BUILD)/%: $(BUILD)/%.o $(HOST_A) $(CHECKED_LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(HOST_A) $(CHECKED_LIB_A) $(CHECK_LIBS) $(PROG_LIBS)

$(BENCHES): $(BUILD)/%: $(BUILD)/tests/bench/%.o $(HOST_A) $(LIB_A)
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(HOST_A) $(LIB_A) $(PROG_LIBS)

-include $(LIB_OBJS:.o=.d) $(CHECKED_LIB_OBJS:.o=.d) $(SIM_OBJS:.o=.d) \
         $(HOST_OBJS:.o=.d) \
         $(TOOL_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(BENCH_OBJS:.o=.d)

# ---------------------------------------------------------------------------
# Set-up: install missing Debian packages. Fast when nothing is missing.

.PHONY: deps
deps:
	@if ! command -v dpkg >/dev/null 2>&1; then \
		echo "deps: no dpkg; not Debian. Make sure these are installed: $(DEPS_PKGS)"; \
		exit 0; \
	fi; \
	missing=; \
	for p in $(DEPS_PKGS); do \
		dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "deps: installing missing Debian packages:$$missing"; \
	if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
	$$sudo apt-get update -q && \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q \
		--no-install-recommends $$missing

# ---------------------------------------------------------------------------
# Tests.
#
# `make test` = deps, then `make check`. `make check` builds everything and
# runs the suites of CHECK_SUITES, in that order, stopping at the first
# that fails; each is also a target of its own. The last one is the unit
# tests, so the last line is their summary ("unit: N passed, N failed").
#
#   header-test      include/craft.h alone, C11 and C++11, gcc and clang
#   check-exports    exported symbols vs the public headers and the map
#   install-test     install into a temp root, build against it, uninstall
#   abi-check        the build against the ABI baseline in abi/
#   abi-broken-test  broken copies of the library must fail abi-check
#   integration-test the runtime's tests (tests/integration, mk/integration.mk)
#   ffi-test         the ABI through dlopen + libffi (tests/ffi, mk/ffi.mk)
#   sim-test         the simulator's tests and seeds (tests/sim, mk/sim.mk)
#   examples-test    every program of examples/ runs (mk/examples.mk)
#   storage-test     the file storage's tests (tests/storage, mk/storage.mk)
#   integration-file-test  the runtime's tests on the file storage
#   transport-test   the TCP transport's tests (tests/transport,
#                    mk/transport.mk)
#   python-test      the Python binding, as a wheel in a fresh virtualenv
#                    (bindings/python/tests, mk/python.mk)
#   fuzz-replay      every fuzz corpus and kept crash input once (mk/fuzz.mk)
#   rust-test        the Rust binding: cargo test + clippy (mk/rust.mk)
#   go-test          the Go binding: go vet, go test -race (bindings/go, mk/go.mk)
#   kv-test          craft-kv: its RESP parser and a 3-process cluster
#                    driven with redis-cli (tests/kv, mk/kv.mk)
#   unit             the unit tests (tests/unit)

CHECK_SUITES := header-test check-exports install-test abi-check \
                abi-broken-test integration-test ffi-test sim-test \
                examples-test \
                storage-test integration-file-test transport-test \
                python-test fuzz-replay rust-test go-test kv-test unit

.PHONY: test check header-test check-exports install-test unit integration
test: deps
	@$(MAKE) --no-print-directory check

check: all tests benches fuzz-replays
	@set -e; for suite in $(CHECK_SUITES); do \
		$(MAKE) --no-print-directory $$suite; \
	done

unit: $(UNIT_TESTS)
	@$(TEST_ENV) sh tests/run-checks.sh -l unit -w '$(TEST_WRAPPER)' \
		$(UNIT_TESTS)

integration: integration-test

# include/craft.h alone, as C11 and C++11, with each compiler.
header-test:
	@mkdir -p $(BUILD)/tests/header
	@set -e; for cc in $(HEADER_CCS); do \
		echo "  HDR     $$cc -std=c11 -pedantic"; \
		$$cc -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude \
			-c -o $(BUILD)/tests/header/c11-$$cc.o tests/header/header.c; \
	done; \
	for cxx in $(HEADER_CXXS); do \
		echo "  HDR     $$cxx -std=c++11 -pedantic"; \
		$$cxx -x c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude \
			-c -o $(BUILD)/tests/header/cxx11-$$cxx.o tests/header/header.c; \
	done; \
	echo "header: include/craft.h compiles alone as C11 and C++11"

# Exported symbols: only craft_*, each in a node of abi/libcraft.map, and
# exactly the functions the public headers declare.
check-exports: $(LIB_SONAME)
	@sh abi/check-exports.sh $(LIB_SONAME) $(SONAME) $(MAPFILE) \
		include/craft.h include/craft/*.h

# Install into a temporary root, build a program against it with
# pkg-config (shared and static), run both, uninstall, expect nothing left.
install-test: lib
	@$(MAKE) --no-print-directory -s install-test-run

install-test-run:
	@CC='$(CC)' MAKE='$(MAKE)' BUILD='$(BUILD)' PKG_CONFIG='$(PKG_CONFIG)' \
		VERSION='$(VERSION)' SONAME='$(SONAME)' \
		sh tests/install/run.sh

# Sanitizers and valgrind (sanitize, tsan, valgrind, ...): mk/sanitize.mk.

# ---------------------------------------------------------------------------
# Demo and benchmarks.

.PHONY: demo demo-engine bench bench-node
# The tour of craft-kv (mk/kv.mk): 3 processes, redis-cli, SIGKILL of the
# leader, failover, catch-up, rates.
demo: kv-demo

# The engines alone: 3 in one process over an in-memory network, the
# example examples/engine_host.c with ten times its proposals.
demo-engine: deps
	@$(MAKE) --no-print-directory $(BUILD)/examples/engine_host
	$(BUILD)/examples/engine_host 10

bench: $(BENCHES)
	@if [ -z '$(BENCHES)' ]; then echo "bench: no tests/bench/bench_*.c yet"; fi
	@set -e; for b in $(BENCHES); do echo "== $$b"; $$b; done

# The runtime alone: a 3-node cluster of craft_node over the in-process
# hub, commits/s and latency at 1, 16 and 256 proposers.
bench-node: $(BUILD)/bench_node
	$(BUILD)/bench_node

# ---------------------------------------------------------------------------
# ABI baseline (libabigail). `make abi-dump` writes abi/libcraft.abi from
# the current build; `make abi-check` compares the build with it and fails
# on an incompatible change (additions are fine).

.PHONY: abi-dump abi-check abi-broken-test
# Shows abi-check is not vacuous: broken copies (a removed symbol, a changed
# signature) must fail it, an added function must pass.
abi-broken-test:
	@sh tests/abi/broken-variants.sh $(CC)

abi-dump: $(LIB_SO)
	abidw --headers-dir include --no-corpus-path --out-file $(ABI_BASELINE) $(LIB_SO)
	sh abi/prototypes.sh include >$(ABI_BASELINE:.abi=.prototypes)

abi-check: $(LIB_SO)
	@sh abi/check-abi.sh $(ABI_BASELINE) $(LIB_SO)

# ---------------------------------------------------------------------------
# Install.

PC_LIBDIR     = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
PUBLIC_SUBHEADERS := $(notdir $(wildcard include/craft/*.h))

.PHONY: install uninstall
$(BUILD)/craft.pc: pkgconfig/craft.pc.in FORCE
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(PC_LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		$< > $@

install: lib $(BUILD)/craft.pc
	$(INSTALL) -d '$(DESTDIR)$(INCLUDEDIR)/craft' '$(DESTDIR)$(LIBDIR)' \
		'$(DESTDIR)$(PKGCONFIGDIR)'
	$(INSTALL) -m 644 include/craft.h '$(DESTDIR)$(INCLUDEDIR)/craft.h'
	$(INSTALL) -m 644 $(addprefix include/craft/,$(PUBLIC_SUBHEADERS)) \
		'$(DESTDIR)$(INCLUDEDIR)/craft/'
	$(INSTALL) -m 755 $(LIB_SO) '$(DESTDIR)$(LIBDIR)/libcraft.so.$(VERSION)'
	ln -sf libcraft.so.$(VERSION) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sf $(SONAME) '$(DESTDIR)$(LIBDIR)/libcraft.so'
	$(INSTALL) -m 644 $(LIB_A) '$(DESTDIR)$(LIBDIR)/libcraft.a'
	$(INSTALL) -m 644 $(BUILD)/craft.pc '$(DESTDIR)$(PKGCONFIGDIR)/craft.pc'

uninstall:
	rm -f '$(DESTDIR)$(INCLUDEDIR)/craft.h'
	rm -f $(foreach h,$(PUBLIC_SUBHEADERS),'$(DESTDIR)$(INCLUDEDIR)/craft/$(h)')
	-rmdir '$(DESTDIR)$(INCLUDEDIR)/craft' 2>/dev/null
	rm -f '$(DESTDIR)$(LIBDIR)/libcraft.so.$(VERSION)' \
		'$(DESTDIR)$(LIBDIR)/$(SONAME)' '$(DESTDIR)$(LIBDIR)/libcraft.so' \
		'$(DESTDIR)$(LIBDIR)/libcraft.a' '$(DESTDIR)$(PKGCONFIGDIR)/craft.pc'

# ---------------------------------------------------------------------------

.PHONY: clean help version FORCE
clean:
	rm -rf build build-asan build-tsan build-clang $(filter-out build build-asan build-tsan build-clang,$(BUILD))

version:
	@echo $(VERSION)

help:
	@echo 'craft $(VERSION) (SONAME $(SONAME))'
	@echo
	@echo 'Set-up included (installs missing Debian packages first):'
	@echo '  make demo        the craft-kv tour: 3 processes, redis-cli, failover'
	@echo '  make demo-engine 3 engines in one process (examples/engine_host)'
	@echo '  make kv-cluster  3 craft-kv processes on 127.0.0.1 (kv-cluster-stop)'
	@echo '  make bench-kv    craft-kv vs redis-server appendfsync always'
	@echo '  make chaos       craft-kv under kills, pauses, cuts, disk and clock faults'
	@echo '                   (CHAOS_SECONDS, CHAOS_SEED; chaos-smoke: the short one)'
	@echo '  make test        build everything and run every test'
	@echo
	@echo 'Build:'
	@echo '  make [all]       libcraft.so.$(VERSION) (+ symlinks), libcraft.a, tools'
	@echo '  make tests       build the test programs'
	@echo '  make check       run the tests without the deps step'
	@echo '  make unit        run the unit tests only'
	@echo '  make header-test compile include/craft.h alone (C11, C++11)'
	@echo '  make check-exports  exported symbols vs the public headers'
	@echo '  make install-test   install into a temp root and build against it'
	@echo '  make sanitize    unit tests under ASan+UBSan (build-asan/)'
	@echo '  make valgrind    unit tests under valgrind'
	@echo '  make tsan        tests/integration under TSan (build-tsan/)'
	@echo '  make bench       build and run tests/bench/bench_*'
	@echo '  make rust-test   bindings/rust: cargo test + clippy (rust-asan, rust-example, rust-bench)'
	@echo '  make go-test     Go binding: go vet, go test -race (bindings/go)'
	@echo '  make go-bench    Go binding: Propose ops/s next to hashicorp raft'
	@echo '  make abi-dump / abi-check   libabigail baseline in abi/'
	@echo '  make install / uninstall    PREFIX LIBDIR INCLUDEDIR PKGCONFIGDIR DESTDIR'
	@echo '  make deps        install missing Debian packages'
	@echo '  make clean'

FORCE:

# One fragment per concern, each listed here: a fragment that is not
# listed is an error rather than a suite that silently does not run.
MK_FRAGMENTS := mk/sanitize.mk mk/integration.mk mk/ffi.mk mk/sim.mk \
                mk/examples.mk \
                mk/storage.mk mk/python.mk mk/fuzz.mk mk/rust.mk mk/go.mk \
                mk/transport.mk mk/kv.mk mk/chaos.mk
$(foreach f,$(filter-out $(MK_FRAGMENTS),$(wildcard mk/*.mk)),\
  $(error $(f) exists but is not listed in MK_FRAGMENTS in the Makefile))
include $(MK_FRAGMENTS)
