# mk/ffi.mk: the ABI called the way a foreign binding calls it.
#
# Included by the top-level Makefile; it uses its variables (BUILD, CC,
# TEST_CFLAGS, CHECK_LIBS, LIB_SONAME, MAPFILE, ...).
#
# tests/ffi/test_ffi.c calls libcraft the way a foreign binding does: it
# is NOT linked against libcraft; it dlopen()s libcraft.so.1 (found
# through LD_LIBRARY_PATH=$(BUILD)), dlsym()s every function and calls
# each one through ffi_call; every callback it hands the library is an
# ffi closure. The list of functions to resolve is generated from the
# CRAFT_API declarations of include/ (and the version nodes of the map).
#
#   make ffi-test            build $(BUILD)/ffi/test_ffi and run it
#                            (valgrind-ffi, in mk/sanitize.mk: under
#                            valgrind)
#
# Programs go to $(BUILD)/ffi/.


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

.PHONY: ffi-test

# A Check runner; the last line is "ffi: N passed, N failed".
ffi-test: $(FFI_TEST) $(LIB_SONAME)
	@$(TEST_ENV) LD_LIBRARY_PATH='$(abspath $(BUILD))'$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH} \
		sh tests/run-checks.sh -l ffi -w '$(TEST_WRAPPER)' $(FFI_TEST)
