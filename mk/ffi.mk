# mk/ffi.mk: the libffi tests (issue 6, section 4).
#
# Included by the top-level Makefile (or, standalone, with
# `make -f Makefile -f mk/ffi.mk TARGET`); it uses the Makefile's
# variables (BUILD, CC, TEST_CFLAGS, CHECK_LIBS, LIB_SONAME, MAPFILE,
# VALGRIND, ...).
#
# tests/ffi/test_ffi.c calls libcraft the way a foreign binding does: it
# is NOT linked against libcraft; it dlopen()s libcraft.so.1 (found
# through LD_LIBRARY_PATH=$(BUILD)), dlsym()s every function and calls
# each one through ffi_call; every callback it hands the library is an
# ffi closure. The list of functions to resolve is generated from the
# CRAFT_API declarations of include/ (and the version nodes of the map).
#
#   make ffi-test            build $(BUILD)/ffi/test_ffi and run it
#   make valgrind-ffi        the same under valgrind (CK_FORK=no)
#
# Programs go to $(BUILD)/ffi/.

ifndef CRAFT_FFI_MK_INCLUDED
CRAFT_FFI_MK_INCLUDED := 1

FFI_MK_SELF := $(lastword $(MAKEFILE_LIST))
FFI_MK_MAIN := $(firstword $(MAKEFILE_LIST))
FFI_MAKE = $(MAKE) --no-print-directory -f $(FFI_MK_MAIN) \
           $(if $(filter $(FFI_MK_SELF),$(FFI_MK_MAIN)),,-f $(FFI_MK_SELF))

FFI_CFLAGS = $(shell $(PKG_CONFIG) --cflags libffi 2>/dev/null)
FFI_LIBS   = $(or $(shell $(PKG_CONFIG) --libs libffi 2>/dev/null),-lffi)

FFI_DIR     := $(BUILD)/ffi
FFI_TEST    := $(FFI_DIR)/test_ffi
FFI_SYMBOLS := $(FFI_DIR)/ffi_symbols.h
FFI_HEADERS := include/craft.h $(wildcard include/craft/*.h)
# The test compiles against the headers only (types, macros); nothing of
# libcraft is linked in, so a direct call would not even link.
FFI_TEST_CFLAGS = $(TEST_CFLAGS) $(FFI_CFLAGS) -I$(FFI_DIR)

$(FFI_SYMBOLS): tests/ffi/gen-symbols.sh $(FFI_HEADERS) $(MAPFILE)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  GEN     $@')
	$(Q)sh tests/ffi/gen-symbols.sh $(MAPFILE) $(FFI_HEADERS) >$@.tmp && \
		mv $@.tmp $@

$(FFI_TEST).o: tests/ffi/test_ffi.c $(FFI_SYMBOLS) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(FFI_TEST_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(FFI_TEST): $(FFI_TEST).o
	@$(if $(Q),echo '  LD      $@')
	$(Q)$(CC) $(CFLAGS) $(EXTRA_CFLAGS) $(LDFLAGS) $(EXTRA_LDFLAGS) -o $@ \
		$< $(FFI_LIBS) -ldl $(CHECK_LIBS) -lpthread

-include $(FFI_TEST).d

.PHONY: ffi-test valgrind-ffi

# A Check runner; the last line is "ffi: N passed, N failed".
ffi-test: $(FFI_TEST) $(LIB_SONAME)
	@$(TEST_ENV) LD_LIBRARY_PATH='$(abspath $(BUILD))'$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH} \
		sh tests/run-checks.sh -l ffi -w '$(TEST_WRAPPER)' $(FFI_TEST)

valgrind-ffi: deps
	@$(FFI_MAKE) TEST_ENV='CK_FORK=no' TEST_WRAPPER='$(VALGRIND)' ffi-test

endif # CRAFT_FFI_MK_INCLUDED
