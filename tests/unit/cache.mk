# Unit tests of the key cache, including its threads.
check_PROGRAMS += tests/unit/test_cache
TESTS += tests/unit/test_cache

tests_unit_test_cache_SOURCES = tests/unit/test_cache.c tests/unit/test_cache_admin.c \
	tests/unit/test_cache_threads.c tests/unit/test_cache.h
tests_unit_test_cache_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_cache_LDADD = libsaef.la $(CMOCKA_LIBS) -lpthread
