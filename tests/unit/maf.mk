# Unit tests of the MAF client (security/maf_*.c) and the fuzz target of its answer parser.
check_PROGRAMS += tests/unit/test_maf_answer tests/unit/test_maf_b64 \
	tests/unit/test_maf_breaker tests/unit/test_maf_register tests/unit/test_maf_client
TESTS += tests/unit/test_maf_answer tests/unit/test_maf_b64 \
	tests/unit/test_maf_breaker tests/unit/test_maf_register tests/unit/test_maf_client

MAF_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(CMOCKA_CFLAGS)
MAF_TEST_LDADD = libsaef.la $(CMOCKA_LIBS)

tests_unit_test_maf_answer_SOURCES = tests/unit/test_maf_answer.c
tests_unit_test_maf_answer_CPPFLAGS = $(MAF_TEST_CPPFLAGS)
tests_unit_test_maf_answer_LDADD = $(MAF_TEST_LDADD)

tests_unit_test_maf_b64_SOURCES = tests/unit/test_maf_b64.c
tests_unit_test_maf_b64_CPPFLAGS = $(MAF_TEST_CPPFLAGS)
tests_unit_test_maf_b64_LDADD = $(MAF_TEST_LDADD)

tests_unit_test_maf_breaker_SOURCES = tests/unit/test_maf_breaker.c
tests_unit_test_maf_breaker_CPPFLAGS = $(MAF_TEST_CPPFLAGS)
tests_unit_test_maf_breaker_LDADD = $(MAF_TEST_LDADD)

tests_unit_test_maf_register_SOURCES = tests/unit/test_maf_register.c
tests_unit_test_maf_register_CPPFLAGS = $(MAF_TEST_CPPFLAGS)
tests_unit_test_maf_register_LDADD = $(MAF_TEST_LDADD)

tests_unit_test_maf_client_SOURCES = tests/unit/test_maf_client.c
tests_unit_test_maf_client_CPPFLAGS = $(MAF_TEST_CPPFLAGS)
tests_unit_test_maf_client_LDADD = $(MAF_TEST_LDADD) -lpthread

# Fuzz target of the answer parser, the pattern of tests/fuzz/local.mk: a libFuzzer binary with
# ENABLE_FUZZING, else a replay of tests/fuzz/corpus/maf_answer/ by tests/fuzz/replay_corpus.sh.
check_PROGRAMS += tests/fuzz/fuzz_maf_answer
tests_fuzz_fuzz_maf_answer_SOURCES = tests/fuzz/fuzz.h tests/fuzz/fuzz_maf_answer.c $(FUZZ_DRIVER)
tests_fuzz_fuzz_maf_answer_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS)
tests_fuzz_fuzz_maf_answer_CFLAGS = $(AM_CFLAGS) $(FUZZ_ENGINE)
tests_fuzz_fuzz_maf_answer_LDFLAGS = $(AM_LDFLAGS) $(FUZZ_ENGINE)
tests_fuzz_fuzz_maf_answer_LDADD = libsaef.la
