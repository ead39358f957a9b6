# mk/go.mk: the Go binding (bindings/go, a cgo module).
#
# Included by the top-level Makefile; it uses its variables (BUILD, MAKE).
#
# The binding links libcraft through pkg-config (#cgo pkg-config: craft),
# as a user's program would. The targets below first stage an install of
# this tree's library under $(BUILD)/go/prefix (make install PREFIX=...),
# then run the go command with PKG_CONFIG_PATH at the staged craft.pc and
# LD_LIBRARY_PATH at the staged lib/ (the test binaries load
# libcraft.so.1 from there).
#
#   make go-test        go vet and go test -race ./... in bindings/go
#                       (part of `make check`)
#   make go-bench       the Propose benchmark against hashicorp raft
#                       (bindings/go/bench, its own module; fetches its
#                       dependencies with the go command)
#   make go-bench-smoke the same benchmark, one short round (CI)
#   make go-kv          build the example, bindings/go/examples/kv
#
# GO: the go command (default: `go` on PATH, else /usr/local/go/bin/go).
# Without a Go >= 1.22 toolchain the targets say so and succeed, unless
# GO_REQUIRED=1 (as .ci/run sets): then they fail.

GO ?= $(or $(shell command -v go 2>/dev/null),$(wildcard /usr/local/go/bin/go))
GO_REQUIRED ?=
GO_DIR      := bindings/go
GO_STAGE     = $(abspath $(BUILD))/go/prefix
# The go command's build cache does not hash headers outside the package:
# after a change to include/ it would link cgo objects compiled against
# the old structs (a struct_size the library refuses). A digest of the
# public headers in CGO_CFLAGS is part of every cgo action's key.
GO_HDR_SUM  := $(shell cat include/craft.h include/craft/*.h 2>/dev/null | cksum | cut -d' ' -f1)
GO_ENV       = PKG_CONFIG_PATH='$(GO_STAGE)/lib/pkgconfig' \
               LD_LIBRARY_PATH='$(GO_STAGE)/lib'$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH} \
               CGO_ENABLED=1 CGO_CFLAGS='-O2 -g -DCRAFT_GO_HEADERS=$(GO_HDR_SUM)' \
               $(if $(HOME),,GOCACHE='$(abspath $(BUILD))/go/cache' GOPATH='$(abspath $(BUILD))/go/path')
GO_TEST_FLAGS ?= -race -count=1 -timeout 600s
GO_BENCH_FLAGS ?= -run '^$$' -bench . -benchtime 3s -count 1 -timeout 1800s

# Prints why Go work is skipped, or nothing when a usable toolchain is
# there; fails instead of skipping with GO_REQUIRED=1.
define GO_CHECK
	if [ -z '$(GO)' ] || ! '$(GO)' version >/dev/null 2>&1; then \
		why="no go command (set GO=/path/to/go)"; \
	else \
		v=$$('$(GO)' env GOVERSION | sed 's/^go//'); \
		maj=$${v%%.*}; rest=$${v#*.}; min=$${rest%%.*}; \
		if [ "$$maj" -lt 1 ] || { [ "$$maj" -eq 1 ] && [ "$$min" -lt 22 ]; }; then \
			why="$(GO) is go$$v, the binding needs go1.22 or newer"; \
		fi; \
	fi; \
	if [ -n "$$why" ]; then \
		if [ -n '$(GO_REQUIRED)' ]; then echo "$@: $$why" >&2; exit 1; fi; \
		echo "$@: skipped: $$why"; exit 0; \
	fi
endef

.PHONY: go-stage go-test go-bench go-bench-smoke go-kv

# Stage an install of this tree's library for the go command.
go-stage: lib
	@$(MAKE) --no-print-directory -s install PREFIX='$(GO_STAGE)' >/dev/null

go-test:
	@$(GO_CHECK); \
	$(MAKE) --no-print-directory go-stage && \
	cd $(GO_DIR) && \
	echo "  GO      vet ./..." && $(GO_ENV) '$(GO)' vet ./... && \
	echo "  GO      test $(GO_TEST_FLAGS) ./..." && \
	$(GO_ENV) '$(GO)' test $(GO_TEST_FLAGS) ./...

go-bench:
	@$(GO_CHECK); \
	$(MAKE) --no-print-directory go-stage && \
	cd $(GO_DIR)/bench && $(GO_ENV) '$(GO)' vet ./... && \
	$(GO_ENV) '$(GO)' test $(GO_BENCH_FLAGS) ./...

go-bench-smoke:
	@$(MAKE) --no-print-directory go-bench \
		GO_BENCH_FLAGS="-run '^\$$\$$' -bench . -benchtime 2000x -count 1 -timeout 600s"

go-kv:
	@$(GO_CHECK); \
	$(MAKE) --no-print-directory go-stage && \
	cd $(GO_DIR) && $(GO_ENV) '$(GO)' build -o '$(abspath $(BUILD))/go/kv' ./examples/kv && \
	echo "built $(BUILD)/go/kv"
