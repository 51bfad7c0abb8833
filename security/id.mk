# security/: oneM2M identifiers, m2m:timestamp and m2m:suid (part of libsaef.la).
libsaef_la_SOURCES += \
	security/saef_id.h security/saef_id_internal.h \
	security/id_fqdn.c security/id_scoped.c security/id_credid.c security/id_m2m.c \
	security/saef_time.h security/timestamp.c \
	security/saef_suid.h security/suid.c
