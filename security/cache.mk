# The key cache: Kc by Key Identifier, bounded, with single-flight misses.
libsaef_la_SOURCES += security/saef_cache.h security/cache.c \
	security/cache_internal.h security/cache_flight.c security/cache_hash.c \
	security/cache_admin.c
