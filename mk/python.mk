# mk/python.mk: the Python binding (bindings/python).
#
# Included by the top-level Makefile; uses its variables (BUILD, CC, ...).
#
#   make python-test   lint the hand-written C glue (-Werror), build a wheel
#                      with `pip wheel` (SWIG regenerates the wrapper from
#                      include/), install it into a fresh virtualenv under
#                      $(BUILD)/python/venv together with pytest, and run
#                      bindings/python/tests against the installed package
#   make python-system-test  the other build mode: install libcraft under
#                      $(BUILD)/python/prefix, build the package against it
#                      with CRAFT_PYTHON_LIBCRAFT=system (pkg-config), and
#                      run the version and cluster tests with it
#                      (part of python-test)
#   make python-bench  the same install, then bindings/python/bench.py
#   make python-asan   the same tests with the extension (glue and the
#                      bundled libcraft) built with ASan + UBSan, in
#                      build-asan/python, the sanitizer runtimes preloaded
#                      into the (uninstrumented) interpreter; leak
#                      detection off (CPython does not free everything at
#                      exit), CRAFT_PYTEST_SLOW=1 (elections and waits 5
#                      times longer). Not part of make test: .ci/run runs
#                      it.
#
# No TSan flavour: ThreadSanitizer cannot be preloaded into an
# uninstrumented interpreter (it must own the process from its first
# instruction) and CPython built with TSan is not a Debian package. The
# threads the glue meets are libcraft's, checked by make tsan; the GIL
# hand-offs are CPython's own (PyGILState_Ensure on every callback).
#
# PYTHON (default python3) is the interpreter the virtualenv is made from;
# pip fetches pytest, setuptools and wheel with its own client.

ifndef CRAFT_PYTHON_MK_INCLUDED
CRAFT_PYTHON_MK_INCLUDED := 1

# SWIG and the headers of the interpreter (Debian's python3 needs the -dev
# package; a pyenv or venv interpreter carries its own).
DEPS_PKGS += swig python3-dev python3-venv

PYTHON      ?= python3
PY_DIR      := $(BUILD)/python
PY_VENV     := $(PY_DIR)/venv
PY_WHEELS   := $(PY_DIR)/wheels
PY_SRC      := bindings/python
PYTEST_ARGS ?=

PY_SYS_VENV := $(PY_DIR)/venv-system
PY_PREFIX   := $(PY_DIR)/prefix

.PHONY: python-test python-install python-lint python-bench \
        python-system-test python-asan

# The glue is ours: it must be as warning-free as the library.
python-lint:
	@$(if $(Q),echo '  LINT    $(PY_SRC)/ext/glue.c')
	$(Q)$(CC) -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -fsyntax-only \
		-Iinclude -I$(PY_SRC)/ext \
		$$($(PYTHON) -c 'import sysconfig; print("-I" + sysconfig.get_paths()["include"])') \
		$(PY_SRC)/ext/glue.c

# A fresh virtualenv every time: the wheel must work in one.
python-install: python-lint
	@rm -rf $(PY_VENV) $(PY_WHEELS)
	@mkdir -p $(PY_DIR)
	$(Q)$(PYTHON) -m venv $(PY_VENV)
	$(Q)$(PY_VENV)/bin/python -m pip install -q --disable-pip-version-check \
		pytest setuptools wheel
	$(Q)CC='$(CC)' CRAFT_PYTHON_BUILD_DIR='$(abspath $(PY_DIR))/setuptools' \
		$(PY_VENV)/bin/python -m pip wheel -q --no-deps --no-build-isolation \
		-w $(PY_WHEELS) ./$(PY_SRC)
	$(Q)$(PY_VENV)/bin/python -m pip install -q --no-deps $(PY_WHEELS)/craft-*.whl

# Run from $(PY_DIR) so that `import craft` finds the installed wheel, not
# the sources.
python-test: python-install
	@cd $(PY_DIR) && CRAFT_PYTHON_INSTALLED=1 CRAFT_SOURCE_ROOT='$(CURDIR)' \
		$(abspath $(PY_VENV))/bin/python -m pytest -q -p no:cacheprovider \
		$(PYTEST_ARGS) '$(CURDIR)/$(PY_SRC)/tests'
	@$(MAKE) --no-print-directory python-system-test

python-system-test: lib
	@rm -rf $(PY_SYS_VENV) $(PY_PREFIX)
	$(Q)$(MAKE) --no-print-directory -s install PREFIX='$(abspath $(PY_PREFIX))' >/dev/null
	$(Q)$(PYTHON) -m venv $(PY_SYS_VENV)
	$(Q)$(PY_SYS_VENV)/bin/python -m pip install -q --disable-pip-version-check \
		pytest setuptools wheel
	$(Q)CC='$(CC)' CRAFT_PYTHON_LIBCRAFT=system \
		PKG_CONFIG_PATH='$(abspath $(PY_PREFIX))/lib/pkgconfig' \
		CRAFT_PYTHON_BUILD_DIR='$(abspath $(PY_DIR))/setuptools-system' \
		$(PY_SYS_VENV)/bin/python -m pip install -q --no-deps \
		--no-build-isolation ./$(PY_SRC)
	@cd $(PY_DIR) && LD_LIBRARY_PATH='$(abspath $(PY_PREFIX))/lib' \
		CRAFT_SOURCE_ROOT='$(CURDIR)' \
		$(abspath $(PY_SYS_VENV))/bin/python -m pytest -q -p no:cacheprovider \
		'$(CURDIR)/$(PY_SRC)/tests/test_build.py' \
		'$(CURDIR)/$(PY_SRC)/tests/test_cluster.py'

# ASan + UBSan: the flags of mk/sanitize.mk, gcc's runtimes.
PY_ASAN_DIR     := build-asan/python
PY_ASAN_PRELOAD  = $(shell $(CC) -print-file-name=libasan.so):$(shell $(CC) -print-file-name=libubsan.so)
python-asan: python-lint
	@rm -rf $(PY_ASAN_DIR)/venv $(PY_ASAN_DIR)/wheels
	@mkdir -p $(PY_ASAN_DIR)
	$(Q)$(PYTHON) -m venv $(PY_ASAN_DIR)/venv
	$(Q)$(PY_ASAN_DIR)/venv/bin/python -m pip install -q --disable-pip-version-check \
		pytest setuptools wheel
	$(Q)CC='$(CC)' CRAFT_PYTHON_CFLAGS='$(SAN_FLAGS)' \
		CRAFT_PYTHON_BUILD_DIR='$(abspath $(PY_ASAN_DIR))/setuptools' \
		$(PY_ASAN_DIR)/venv/bin/python -m pip wheel -q --no-deps --no-build-isolation \
		-w $(PY_ASAN_DIR)/wheels ./$(PY_SRC)
	$(Q)$(PY_ASAN_DIR)/venv/bin/python -m pip install -q --no-deps $(PY_ASAN_DIR)/wheels/craft-*.whl
	@cd $(PY_ASAN_DIR) && CRAFT_PYTHON_INSTALLED=1 CRAFT_SOURCE_ROOT='$(CURDIR)' \
		CRAFT_PYTEST_SLOW=1 LD_PRELOAD='$(PY_ASAN_PRELOAD)' \
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(abspath $(PY_ASAN_DIR))/venv/bin/python -m pytest -q -p no:cacheprovider \
		$(PYTEST_ARGS) '$(CURDIR)/$(PY_SRC)/tests'

python-bench: python-install
	@cd $(PY_DIR) && $(abspath $(PY_VENV))/bin/python \
		'$(CURDIR)/$(PY_SRC)/bench.py' $(PY_BENCH_ARGS)

endif # CRAFT_PYTHON_MK_INCLUDED
