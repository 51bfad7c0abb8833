# tests/bench/: the handshake benchmark of docs/performance.md.  A program, not a test:
# benchmarks never assert timing, so it is not in TESTS.  Run it with tests/bench/run-bench.sh
# BUILDDIR (or contrib/quickstart bench).  It loads maf_saef.so with dlopen() through
# include/saef/module.h only, as a third-party host does.
noinst_PROGRAMS += tests/bench/bench_handshake
tests_bench_bench_handshake_SOURCES = tests/bench/bench_handshake.c
tests_bench_bench_handshake_CPPFLAGS = $(AM_CPPFLAGS) $(OPENSSL_CFLAGS) $(CURL_CFLAGS) \
	$(JANSSON_CFLAGS)
tests_bench_bench_handshake_LDADD = $(OPENSSL_LIBS) $(CURL_LIBS) $(JANSSON_LIBS) -ldl
EXTRA_DIST += tests/bench/run-bench.sh docs/performance.md
