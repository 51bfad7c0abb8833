# security/: Entity B's handshake path: the decision engine and the OpenSSL/libcoap adapters.
libsaef_la_SOURCES += \
	security/saef_entityb.h security/entityb.c \
	security/saef_tls.h security/tls_internal.h security/tls_conn.c security/tls_openssl.c \
	security/tls_coap.c
