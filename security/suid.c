/* m2m:suid values and their meaning (TS-0004 6.3.4.2.39). */
#include <stddef.h>

#include "saef_suid.h"

static const struct {
    unsigned value;
    const char *name;
} suids[] = {
    {SAEF_SUID_PRE_MEF, "pre-provisioned symmetric key shared with MEF"},
    {SAEF_SUID_PRE_MAF, "pre-provisioned symmetric key shared with MAF"},
    {SAEF_SUID_PRE_SAEF, "pre-provisioned symmetric key for SAEF"},
    {SAEF_SUID_PRE_ESPRIM, "pre-provisioned symmetric key for ESPrim"},
    {SAEF_SUID_PRE_ESDATA_ENC, "pre-provisioned symmetric key for ESData encryption"},
    {SAEF_SUID_PRE_ESDATA_SIG, "pre-provisioned symmetric key for ESData signature"},
    {SAEF_SUID_RSPF_MAF, "RSPF-provisioned symmetric key shared with MAF"},
    {SAEF_SUID_RSPF_SAEF, "RSPF-provisioned symmetric key for SAEF"},
    {SAEF_SUID_RSPF_ESPRIM, "RSPF-provisioned symmetric key for ESPrim"},
    {SAEF_SUID_RSPF_ESDATA_ENC, "RSPF-provisioned symmetric key for ESData encryption"},
    {SAEF_SUID_RSPF_ESDATA_SIG, "RSPF-provisioned symmetric key for ESData signature"},
    {SAEF_SUID_MAF_SAEF, "MAF-distributed symmetric key for SAEF"},
    {SAEF_SUID_MAF_ESPRIM, "MAF-distributed symmetric key for ESPrim"},
    {SAEF_SUID_MAF_ESDATA_ENC, "MAF-distributed symmetric key for ESData encryption"},
    {SAEF_SUID_MAF_ESDATA_SIG, "MAF-distributed symmetric key for ESData signature"},
    {SAEF_SUID_CERT_MEF, "certificate shared with MEF"},
    {SAEF_SUID_CERT_MAF, "certificate shared with MAF"},
    {SAEF_SUID_CERT_SAEF, "certificate for SAEF"},
    {SAEF_SUID_CERT_ESPRIM, "certificate for ESPrim"},
    {SAEF_SUID_CERT_ESDATA_ENC, "certificate for ESData encryption"},
    {SAEF_SUID_CERT_ESDATA_SIG, "certificate for ESData signature"},
};

static const char *lookup(unsigned v)
{
    for (size_t i = 0; i < sizeof(suids) / sizeof(suids[0]); i++) {
        if (suids[i].value == v)
            return suids[i].name;
    }
    return NULL;
}

bool saef_suid_known(unsigned v)
{
    return lookup(v) != NULL;
}

const char *saef_suid_name(unsigned v)
{
    const char *name = lookup(v);
    return name != NULL ? name : "unknown";
}
