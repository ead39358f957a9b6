# mk/rust.mk: the Rust binding (bindings/rust, a cargo workspace).
#
# Included by the top-level Makefile; uses its variables (BUILD, MAKE,
# asan_make of mk/sanitize.mk, ...). cargo finds libcraft through
# pkg-config: these rules install libcraft into a staging root under the
# build directory and point PKG_CONFIG_PATH and LD_LIBRARY_PATH at it, so
# nothing outside the repository is touched. Cargo's own build output goes to
# build/rust-target (one target directory whatever BUILD is, so a second
# BUILD, e.g. the clang pass, reuses the compiled dependencies).
#
#   make rust-test     stage libcraft, then in bindings/rust: cargo test
#                      (unit, integration and doc tests) and cargo clippy
#                      -D warnings; last line "rust: N passed, N failed"
#   make rust-asan     the same tests against a libcraft built with
#                      ASan + UBSan (build-asan/), the sanitizer runtimes
#                      preloaded (stable Rust cannot instrument Rust code,
#                      so this checks the C side of every binding call)
#   make rust-example  run bindings/rust/examples/kv.rs (3 nodes, one
#                      process)
#   make rust-bench    build and run bindings/rust/bench in release mode:
#                      craft vs openraft, propose from 1, 64, 256 tasks
#                      (downloads and compiles openraft: never in CI)

ifndef CRAFT_RUST_MK_INCLUDED
CRAFT_RUST_MK_INCLUDED := 1

CARGO       ?= cargo
RUST_DIR    := bindings/rust
RUST_STAGE   = $(abspath $(BUILD))/rust/stage
RUST_TARGET ?= $(abspath build)/rust-target
# --locked: Cargo.lock is committed; the build uses exactly it.
CARGO_FLAGS ?= --locked
RUST_ENV     = PKG_CONFIG_PATH='$(RUST_STAGE)/lib/pkgconfig' \
               LD_LIBRARY_PATH='$(RUST_STAGE)/lib' \
               CARGO_TARGET_DIR='$(RUST_TARGET)' CARGO_TERM_COLOR=never

.PHONY: rust-stage rust-test rust-asan rust-example rust-bench rust-check-cargo

rust-check-cargo:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
		echo "rust: cargo not found; install Rust (rustup) to build and test bindings/rust"; \
		exit 1; }

# A private install of libcraft (headers, libcraft.so, craft.pc) for cargo.
rust-stage: lib
	@$(MAKE) --no-print-directory -s install PREFIX='$(RUST_STAGE)' >/dev/null

# cargo test prints one "test result:" line per test binary (unit,
# integration, doc tests); the summary line adds them up.
RUST_SUMMARY = sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$$log" | \
	awk -v rc="$$rc" '{p += $$1; f += $$2; n++} END {if (rc != 0 && f == 0 || n == 0) f++; printf "%s: %d passed, %d failed\n", label, p, f; exit (f != 0)}' label=
rust-test: rust-check-cargo rust-stage
	@log='$(abspath $(BUILD))/rust/test.log'; rcf="$$log.rc"; \
	{ cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) test $(CARGO_FLAGS) --workspace 2>&1; echo $$? >"$$rcf"; } | tee "$$log"; \
	rc=$$(cat "$$rcf"); $(RUST_SUMMARY)rust
	@cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -q -- -D warnings
	@echo "rust: clippy -D warnings clean"

# The C library under ASan + UBSan, the Rust tests unchanged: the test
# programs run with the sanitizer runtimes preloaded (stable Rust cannot
# instrument the Rust side; this checks every call into libcraft, and
# libcraft's reads of the buffers Rust lends it). Leak detection is off:
# the Rust test harness exits with threads and allocations alive.
RUST_ASAN_PRELOAD = $(shell $(CC) -print-file-name=libasan.so):$(shell $(CC) -print-file-name=libubsan.so)
rust-asan: rust-check-cargo
	@$(call asan_make,rust-stage rust-asan-run)

rust-asan-run:
	@log='$(abspath $(BUILD))/rust/asan.log'; rcf="$$log.rc"; \
	{ cd $(RUST_DIR) && $(RUST_ENV) \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(CARGO) test $(CARGO_FLAGS) --workspace --tests \
		--config 'target."cfg(all())".runner = "env LD_PRELOAD=$(RUST_ASAN_PRELOAD)"' \
		2>&1; echo $$? >"$$rcf"; } | tee "$$log"; \
	rc=$$(cat "$$rcf"); $(RUST_SUMMARY)rust-asan

rust-example: rust-check-cargo rust-stage
	@cd $(RUST_DIR) && $(RUST_ENV) $(CARGO) run $(CARGO_FLAGS) -q --example kv

rust-bench: rust-check-cargo rust-stage
	@cd $(RUST_DIR)/bench && $(RUST_ENV) $(CARGO) run $(CARGO_FLAGS) --release -q -- $(RUST_BENCH_ARGS)

endif # CRAFT_RUST_MK_INCLUDED
