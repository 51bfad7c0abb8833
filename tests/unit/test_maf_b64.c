/* Strict base64 (RFC 4648 section 4): the RFC's test vectors, then every way an encoding can be
 * non-strict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "saef_maf_internal.h"

/* RFC 4648 section 10. */
static const struct {
    const char *plain;
    const char *b64;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_rfc_vectors_decode(void **state)
{
    (void)state;
    for (size_t i = 1; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        uint8_t out[16];
        size_t n = 99;
        assert_int_equal(saef_maf_b64_decode(vectors[i].b64, strlen(vectors[i].b64), out,
                                             sizeof(out), &n, NULL, 0),
                         SAEF_OK);
        assert_int_equal(n, strlen(vectors[i].plain));
        assert_memory_equal(out, vectors[i].plain, n);
    }
}

static void test_rfc_vectors_encode(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char buf[16];
        assert_int_equal(saef_maf_b64_encode((const uint8_t *)vectors[i].plain,
                                             strlen(vectors[i].plain), buf, sizeof(buf)),
                         SAEF_OK);
        assert_string_equal(buf, vectors[i].b64);
    }
    char small[4];
    assert_int_equal(saef_maf_b64_encode((const uint8_t *)"foo", 3, small, sizeof(small)),
                     SAEF_E_BUFFER_TOO_SMALL);
    assert_string_equal(small, "");
}

/* Every byte value, through both alphabets' edges. */
static void test_all_bytes_round_trip(void **state)
{
    (void)state;
    uint8_t in[256], out[256];
    char text[400];
    size_t n;
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    for (size_t len = 0; len <= 256; len += 1 + len / 8) {
        assert_int_equal(saef_maf_b64_encode(in, len, text, sizeof(text)), SAEF_OK);
        if (len == 0)
            continue;
        assert_int_equal(saef_maf_b64_decode(text, strlen(text), out, sizeof(out), &n, NULL, 0),
                         SAEF_OK);
        assert_int_equal(n, len);
        assert_memory_equal(out, in, len);
    }
}

static void test_rejections(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *detail;
        size_t len; /* 0 = strlen(in) */
    } bad[] = {
        {"", "empty", 0},
        {"Zg", "length 2 is not a multiple of 4", 0},
        {"Zg=", "length 3", 0},
        {"Zm9vYg", "length 6", 0},
        {"Zm9v\n", "length 5", 0},
        {"Zm9v\nYg==", "length 9", 0},
        {"Zm9 Yg==", "offset 3: character outside", 0},
        {"Zm9v\tg==", "offset 4", 0},
        {" Zm9vYg=", "offset 0", 0},
        {"Zm9vYg= ", "offset 6: '=' before the end", 0},
        {"Zm9-", "offset 3", 0},
        {"Zm9_", "offset 3", 0},
        {"Zm9.", "offset 3", 0},
        {"Zm\x80v", "offset 2", 0},
        {"Zm\0v", "offset 2", 4},
        {"Zg===", "length 5", 0},
        {"Z===", "offset 1: '=' before the end", 0},
        {"====", "offset 0: '='", 0},
        {"Zg==Zm8=", "offset 2: '='", 0},
        {"Z=g=", "offset 1", 0},
        {"Zh==", "offset 1: non-zero unused bits", 0},
        {"Zm9=", "offset 2: non-zero unused bits", 0},
        {"Zm8", "length 3", 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t out[16];
        size_t n = 99;
        char detail[SAEF_MAF_DETAIL_MAX] = "";
        size_t len = bad[i].len != 0 ? bad[i].len : strlen(bad[i].in);
        memset(out, 0xaa, sizeof(out));
        saef_rc_t rc =
            saef_maf_b64_decode(bad[i].in, len, out, sizeof(out), &n, detail, sizeof(detail));
        if (rc != SAEF_E_MAF_KEY_LENGTH || strstr(detail, bad[i].detail) == NULL) {
            print_error("case %zu: rc %d detail \"%s\", want \"%s\"\n", i, rc, detail,
                        bad[i].detail);
            fail();
        }
        assert_int_equal(n, 0);
        /* nothing decoded is left behind */
        for (size_t k = 0; k < sizeof(out); k++)
            assert_int_equal(out[k], 0);
    }
}

static void test_capacity_and_arguments(void **state)
{
    (void)state;
    uint8_t out[3];
    size_t n;
    char detail[SAEF_MAF_DETAIL_MAX];
    assert_int_equal(
        saef_maf_b64_decode("Zm9vYg==", 8, out, sizeof(out), &n, detail, sizeof(detail)),
        SAEF_E_BUFFER_TOO_SMALL);
    assert_non_null(strstr(detail, "decodes to 4 bytes, room for 3"));
    assert_int_equal(saef_maf_b64_decode("Zm9v", 4, out, sizeof(out), &n, NULL, 0), SAEF_OK);
    assert_int_equal(n, 3);
    assert_int_equal(saef_maf_b64_decode(NULL, 4, out, sizeof(out), &n, NULL, 0),
                     SAEF_E_INVALID_ARG);
    assert_int_equal(saef_maf_b64_decode("Zm9v", 4, out, sizeof(out), NULL, NULL, 0),
                     SAEF_E_INVALID_ARG);
}

/* The binding's keyValue: exactly 44 characters for 32 bytes, the 43rd one of the 16 whose two
 * low bits are zero. */
static void test_key_value_shape(void **state)
{
    (void)state;
    uint8_t out[33];
    size_t n;
    const char *key = "RkFLRS1LRVktRk9SLURPQ1VNRU5UQVRJT04tT05MWSE=";
    assert_int_equal(saef_maf_b64_decode(key, 44, out, sizeof(out), &n, NULL, 0), SAEF_OK);
    assert_int_equal(n, 32);
    assert_memory_equal(out, "FAKE-KEY-FOR-DOCUMENTATION-ONLY!", 32);
    const char canon[] = "AEIMQUYcgkosw048";
    char k[45];
    memcpy(k, key, 45);
    for (int c = 0; c < 64; c++) {
        static const char alpha[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        k[42] = alpha[c];
        saef_rc_t rc = saef_maf_b64_decode(k, 44, out, sizeof(out), &n, NULL, 0);
        assert_int_equal(rc, strchr(canon, alpha[c]) != NULL ? SAEF_OK : SAEF_E_MAF_KEY_LENGTH);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_vectors_decode),     cmocka_unit_test(test_rfc_vectors_encode),
        cmocka_unit_test(test_all_bytes_round_trip),   cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_capacity_and_arguments), cmocka_unit_test(test_key_value_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
