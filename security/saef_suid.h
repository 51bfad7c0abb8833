/*
 * Security Usage Identifiers (m2m:suid, TS-0004 6.3.4.2.39).  The tens digit is the credential
 * kind (1 pre-provisioned symmetric key, 2 RSPF-provisioned symmetric key, 3 MAF-distributed
 * symmetric key, 4 certificate), the units digit the use.  Thread-safe, no state.
 */
#ifndef SAEF_SUID_H
#define SAEF_SUID_H

#include <stdbool.h>

typedef enum saef_suid {
    SAEF_SUID_PRE_MEF = 10,         /* pre-provisioned symmetric key shared with a MEF */
    SAEF_SUID_PRE_MAF = 11,         /* pre-provisioned symmetric key shared with a MAF */
    SAEF_SUID_PRE_SAEF = 12,        /* pre-provisioned symmetric key for a SAEF */
    SAEF_SUID_PRE_ESPRIM = 13,      /* pre-provisioned symmetric key for ESPrim */
    SAEF_SUID_PRE_ESDATA_ENC = 14,  /* ... ESData encryption-only or sign-then-encrypt */
    SAEF_SUID_PRE_ESDATA_SIG = 15,  /* ... ESData signature-only */
    SAEF_SUID_RSPF_MAF = 21,        /* RSPF-provisioned symmetric key shared with a MAF */
    SAEF_SUID_RSPF_SAEF = 22,       /* RSPF-provisioned symmetric key for a SAEF */
    SAEF_SUID_RSPF_ESPRIM = 23,     /* ... for ESPrim */
    SAEF_SUID_RSPF_ESDATA_ENC = 24, /* ... for ESData encryption */
    SAEF_SUID_RSPF_ESDATA_SIG = 25, /* ... for ESData signature */
    SAEF_SUID_MAF_SAEF = 32,        /* MAF-distributed symmetric key for a SAEF: the only value
                                     * Entity B of the MAF-based SAEF accepts */
    SAEF_SUID_MAF_ESPRIM = 33,      /* MAF-distributed symmetric key for ESPrim */
    SAEF_SUID_MAF_ESDATA_ENC = 34,  /* ... for ESData encryption */
    SAEF_SUID_MAF_ESDATA_SIG = 35,  /* ... for ESData signature-only */
    SAEF_SUID_CERT_MEF = 40,        /* certificate shared with a MEF */
    SAEF_SUID_CERT_MAF = 41,        /* certificate shared with a MAF */
    SAEF_SUID_CERT_SAEF = 42,       /* certificate for a SAEF */
    SAEF_SUID_CERT_ESPRIM = 43,     /* certificate for ESPrim */
    SAEF_SUID_CERT_ESDATA_ENC = 44, /* certificate for ESData encryption */
    SAEF_SUID_CERT_ESDATA_SIG = 45, /* certificate for ESData signature-only */
} saef_suid_t;

/* True when v is one of the values above.  (31 is not: TS-0003 8.3.9.9.2 mentions it, the
 * m2m:suid table of TS-0004 has no such value.) */
bool saef_suid_known(unsigned v);

/* Static description of v; "unknown" for a value saef_suid_known() rejects.  Never NULL. */
const char *saef_suid_name(unsigned v);

#endif /* SAEF_SUID_H */
