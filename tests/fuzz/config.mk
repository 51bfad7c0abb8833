# Fuzz target of the configuration parser (seed corpus: tests/fuzz/corpus/config), built like
# the targets of tests/fuzz/local.mk.
check_PROGRAMS += tests/fuzz/fuzz_config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz.h tests/fuzz/fuzz_config.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_config_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(FUZZ_ENGINE)
tests_fuzz_fuzz_config_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_ENGINE)
tests_fuzz_fuzz_config_LDADD = libsaefmod.la libsaef.la
