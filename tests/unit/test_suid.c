/* Unit tests of security/saef_suid.h against the m2m:suid table (TS-0004 6.3.4.2.39). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>
#include <cmocka.h>

#include "saef_suid.h"

#define ROWS(t) (sizeof(t) / sizeof((t)[0]))

/* The table of the spec, with a word each name must contain. */
static const struct {
    unsigned value;
    const char *kind; /* credential kind of the tens digit */
    const char *use;
} spec[] = {
    {10, "pre-provisioned", "MEF"},     {11, "pre-provisioned", "MAF"},
    {12, "pre-provisioned", "SAEF"},    {13, "pre-provisioned", "ESPrim"},
    {14, "pre-provisioned", "ESData"},  {15, "pre-provisioned", "ESData"},
    {21, "RSPF-provisioned", "MAF"},    {22, "RSPF-provisioned", "SAEF"},
    {23, "RSPF-provisioned", "ESPrim"}, {24, "RSPF-provisioned", "ESData"},
    {25, "RSPF-provisioned", "ESData"}, {32, "MAF-distributed", "SAEF"},
    {33, "MAF-distributed", "ESPrim"},  {34, "MAF-distributed", "ESData"},
    {35, "MAF-distributed", "ESData"},  {40, "certificate", "MEF"},
    {41, "certificate", "MAF"},         {42, "certificate", "SAEF"},
    {43, "certificate", "ESPrim"},      {44, "certificate", "ESData"},
    {45, "certificate", "ESData"},
};

static const unsigned not_suids[] = {0,  1,  9,  16, 19, 20,  26,  30,      31,
                                     36, 39, 46, 50, 99, 100, 132, UINT_MAX};

static void test_known_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(spec); i++) {
        const char *name = saef_suid_name(spec[i].value);
        if (!saef_suid_known(spec[i].value) || strstr(name, spec[i].kind) == NULL ||
            strstr(name, spec[i].use) == NULL) {
            print_error("SUID %u: known %d, name \"%s\"\n", spec[i].value,
                        saef_suid_known(spec[i].value), name);
            fail();
        }
    }
}

static void test_unknown_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(not_suids); i++) {
        if (saef_suid_known(not_suids[i])) {
            print_error("%u reported as a SUID\n", not_suids[i]);
            fail();
        }
        assert_string_equal(saef_suid_name(not_suids[i]), "unknown");
    }
}

/* Encryption and signature uses share words; their names must still differ. */
static void test_names_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(spec); i++) {
        for (size_t j = i + 1; j < ROWS(spec); j++)
            assert_string_not_equal(saef_suid_name(spec[i].value), saef_suid_name(spec[j].value));
    }
}

static void test_enum_spells_spec(void **state)
{
    (void)state;
    assert_int_equal(SAEF_SUID_MAF_SAEF, 32);
    assert_int_equal(SAEF_SUID_PRE_MEF, 10);
    assert_int_equal(SAEF_SUID_PRE_ESDATA_SIG, 15);
    assert_int_equal(SAEF_SUID_RSPF_MAF, 21);
    assert_int_equal(SAEF_SUID_RSPF_ESDATA_SIG, 25);
    assert_int_equal(SAEF_SUID_MAF_ESPRIM, 33);
    assert_int_equal(SAEF_SUID_MAF_ESDATA_SIG, 35);
    assert_int_equal(SAEF_SUID_CERT_MEF, 40);
    assert_int_equal(SAEF_SUID_CERT_SAEF, 42);
    assert_int_equal(SAEF_SUID_CERT_ESDATA_SIG, 45);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_unknown_values),
        cmocka_unit_test(test_names_distinct),
        cmocka_unit_test(test_enum_spells_spec),
    };
    return cmocka_run_group_tests_name("saef_suid", tests, NULL, NULL);
}
