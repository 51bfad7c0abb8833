# Unit tests of the module as a host sees it, and of the shared helpers.
UNIT_CPPFLAGS = $(AM_CPPFLAGS) $(SAEF_DEP_CFLAGS) $(CMOCKA_CFLAGS)

check_PROGRAMS += tests/unit/test_module_abi tests/unit/test_secret
TESTS += tests/unit/test_module_abi tests/unit/test_secret tests/unit/module_exports.sh \
	tests/unit/install_layout.sh
EXTRA_DIST += tests/unit/module_exports.sh tests/unit/install_layout.sh

# The ABI test dlopen()s the built module, so it links nothing of ours (OpenSSL only, to hand
# the module a real SSL_CTX).
tests_unit_test_module_abi_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_module_abi_LDADD = $(CMOCKA_LIBS) $(OPENSSL_LIBS) -ldl
EXTRA_tests_unit_test_module_abi_DEPENDENCIES = maf_saef.la

tests_unit_test_secret_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_secret_LDADD = libsaef.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_entityb
TESTS += tests/unit/test_entityb
tests_unit_test_entityb_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_test_entityb_LDADD = libsaef.la $(CMOCKA_LIBS) -lpthread
