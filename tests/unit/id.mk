# Unit tests of the identifier, timestamp and SUID code in security/.
check_PROGRAMS += tests/unit/test_id tests/unit/test_timestamp tests/unit/test_suid
TESTS += tests/unit/test_id tests/unit/test_timestamp tests/unit/test_suid

tests_unit_test_id_SOURCES = tests/unit/test_id.c
tests_unit_test_id_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_id_LDADD = libsaef.la $(CMOCKA_LIBS)

tests_unit_test_timestamp_SOURCES = tests/unit/test_timestamp.c
tests_unit_test_timestamp_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_timestamp_LDADD = libsaef.la $(CMOCKA_LIBS)

tests_unit_test_suid_SOURCES = tests/unit/test_suid.c
tests_unit_test_suid_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_suid_LDADD = libsaef.la $(CMOCKA_LIBS)
