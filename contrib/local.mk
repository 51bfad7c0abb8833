# contrib/: reference hosts and tools that use the module exactly as a third party would.
noinst_PROGRAMS += contrib/cse-host/saef-modinfo
contrib_cse_host_saef_modinfo_SOURCES = contrib/cse-host/saef-modinfo.c \
	contrib/cse-host/ini_pairs.h contrib/cse-host/ini_pairs.c
contrib_cse_host_saef_modinfo_CPPFLAGS = $(AM_CPPFLAGS) $(INIH_CFLAGS)
contrib_cse_host_saef_modinfo_LDADD = $(INIH_LIBS) -ldl

EXTRA_DIST += contrib/examples contrib/demo/run-demo.sh
