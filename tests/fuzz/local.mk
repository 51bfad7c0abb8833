# tests/fuzz: fuzz targets of the parsers of untrusted input.  Configured with --enable-fuzzing
# (CC=clang) they are libFuzzer binaries; otherwise the same sources link replay_main.c and
# replay the seed corpus in `make check` (tests/fuzz/replay_corpus.sh).  Another fragment adds
# a target the same way: sources plus $(FUZZ_DRIVER), $(FUZZ_ENGINE) in its CFLAGS and
# LDFLAGS, and a corpus in tests/fuzz/corpus/NAME for tests/fuzz/fuzz_NAME.
if ENABLE_FUZZING
FUZZ_DRIVER =
FUZZ_ENGINE = -fsanitize=fuzzer
else
FUZZ_DRIVER = tests/fuzz/replay_main.c
FUZZ_ENGINE =
endif

check_PROGRAMS += tests/fuzz/fuzz_keyid tests/fuzz/fuzz_timestamp
TESTS += tests/fuzz/replay_corpus.sh

tests_fuzz_fuzz_keyid_SOURCES = tests/fuzz/fuzz.h tests/fuzz/fuzz_keyid.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_keyid_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
tests_fuzz_fuzz_keyid_CFLAGS = $(AM_CFLAGS) $(FUZZ_ENGINE)
tests_fuzz_fuzz_keyid_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_ENGINE)
tests_fuzz_fuzz_keyid_LDADD = libsaef.la

tests_fuzz_fuzz_timestamp_SOURCES = tests/fuzz/fuzz.h tests/fuzz/fuzz_timestamp.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_timestamp_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
tests_fuzz_fuzz_timestamp_CFLAGS = $(AM_CFLAGS) $(FUZZ_ENGINE)
tests_fuzz_fuzz_timestamp_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_ENGINE)
tests_fuzz_fuzz_timestamp_LDADD = libsaef.la

EXTRA_DIST += tests/fuzz/replay_main.c tests/fuzz/replay_corpus.sh tests/fuzz/corpus
dist_noinst_SCRIPTS += tests/fuzz/run-fuzzers.sh
