/*
 * Unit tests of security/saef_id.h.  Expected results are written out by hand from TS-0003
 * 10.3-10.6 and 12.2-12.3, TS-0001 7.2, RFC 1123 and the contract in the header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "saef_id.h"

/* A literal as (pointer, length); the length counts embedded NULs but not the terminator. */
#define S(lit) lit, (sizeof(lit) - 1)
#define ROWS(t) (sizeof(t) / sizeof((t)[0]))

/* Inputs at the limits: labels of 63/64, relative parts of 64/65, names of 190..254 bytes. */
#define A16 "aaaaaaaaaaaaaaaa"
#define L59 A16 A16 A16 "bbbbbbbbbbb"
#define L61 L59 "cc"
#define L62 L61 "d"
#define L63 L62 "e"
#define L64 L63 "f"
#define REL64 A16 A16 A16 A16
#define REL65 REL64 "z"
#define HEX64 "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"
#define FQDN187 L63 "." L63 "." L59
#define FQDN188 FQDN187 "g"
#define FQDN190 L63 "." L63 "." L62
#define FQDN191 L63 "." L63 "." L63
#define FQDN253 L63 "." L63 "." L63 "." L61
#define FQDN254 FQDN253 "h"
#define V252 REL64 REL64 REL64 L59 "x"
#define CSE254 REL64 REL64 REL64 L62

_Static_assert(sizeof(L63) - 1 == 63 && sizeof(L64) - 1 == 64, "label sizes");
_Static_assert(sizeof(REL64) - 1 == 64 && sizeof(HEX64) - 1 == 64, "relative part sizes");
_Static_assert(sizeof(FQDN253) - 1 == 253 && sizeof(FQDN254) - 1 == 254, "FQDN sizes");
_Static_assert(sizeof(REL64 "@" FQDN190) - 1 == 255, "identity of 255 bytes");
_Static_assert(sizeof(REL64 "@" FQDN191) - 1 == 256, "identity of 256 bytes");
_Static_assert(sizeof("11-" REL64 "@" FQDN187) - 1 == 255, "Credential-ID of 255 bytes");
_Static_assert(sizeof("11-" V252) - 1 == 255 && sizeof("/" CSE254) - 1 == 255, "255 bytes");

static void check_rc(const char *what, size_t row, saef_rc_t got, saef_rc_t want)
{
    if (got != want) {
        print_error("%s row %zu: got %d (%s), want %d (%s)\n", what, row, (int)got,
                    saef_strerror(got), (int)want, saef_strerror(want));
        fail();
    }
}

static void check_bool(const char *what, size_t row, bool got, bool want)
{
    if (got != want) {
        print_error("%s row %zu: got %s, want %s\n", what, row, got ? "true" : "false",
                    want ? "true" : "false");
        fail();
    }
}

/* The span must equal want and lie inside the input [in, in + len). */
static void check_span(const char *what, size_t row, saef_span_t got, const char *want,
                       const char *in, size_t len)
{
    size_t wlen = strlen(want);
    if (got.len != wlen || (wlen > 0 && memcmp(got.ptr, want, wlen) != 0)) {
        print_error("%s row %zu: span \"%.*s\", want \"%s\"\n", what, row, (int)got.len,
                    got.ptr != NULL ? got.ptr : "", want);
        fail();
    }
    if (wlen > 0 && (got.ptr < in || got.ptr + got.len > in + len)) {
        print_error("%s row %zu: span outside the input\n", what, row);
        fail();
    }
}

/* ---- Key Identifier, KmID, KpsaID (one rule set, TS-0003 10.3.5, 10.5, 10.6) ---- */

struct scoped_row {
    const char *in;
    size_t len;
    saef_rc_t rc;
    const char *rel;  /* expected on SAEF_OK */
    const char *fqdn; /* expected on SAEF_OK, without trailing dot */
};

static const struct scoped_row keyid_rows[] = {
    {S("00112233445566778899AABBCCDDEEFF@maf.example.com"), SAEF_OK,
     "00112233445566778899AABBCCDDEEFF", "maf.example.com"},
    {S("key@maf.example.com."), SAEF_OK, "key", "maf.example.com"},
    {S("a.b_c-D9@m-a-f.example.com"), SAEF_OK, "a.b_c-D9", "m-a-f.example.com"},
    {S("k@MAF.Example.COM"), SAEF_OK, "k", "MAF.Example.COM"},
    {S("k@maf"), SAEF_OK, "k", "maf"},
    {S("k@1maf.example.com"), SAEF_OK, "k", "1maf.example.com"},
    {S("k@xn--bcher-kva.example"), SAEF_OK, "k", "xn--bcher-kva.example"},
    {S("k@123.example.com"), SAEF_OK, "k", "123.example.com"},
    {S(REL64 "@maf.example.com"), SAEF_OK, REL64, "maf.example.com"},
    {S("k@" L63 ".example.com"), SAEF_OK, "k", L63 ".example.com"},
    {S(REL64 "@" FQDN190), SAEF_OK, REL64, FQDN190},
    {S("k@" FQDN253), SAEF_OK, "k", FQDN253},
    /* whole identity */
    {S(""), SAEF_E_ID_EMPTY, NULL, NULL},
    {S(REL64 "@" FQDN191), SAEF_E_ID_TOO_LONG, NULL, NULL},
    {S("k@" FQDN253 "."), SAEF_E_ID_TOO_LONG, NULL, NULL},
    {S("ke\0y@maf.example.com"), SAEF_E_ID_NUL, NULL, NULL},
    {S("key@maf\0.example.com"), SAEF_E_ID_NUL, NULL, NULL},
    {S("key@maf.example.com\0"), SAEF_E_ID_NUL, NULL, NULL},
    {S("ke\0y"), SAEF_E_ID_NUL, NULL, NULL},
    {S("k\xc3\xa9y@maf.example.com"), SAEF_E_ID_NON_ASCII, NULL, NULL},
    {S("key@m\303\244f.example.com"), SAEF_E_ID_NON_ASCII, NULL, NULL},
    {S("k\tey@maf.example.com"), SAEF_E_ID_NON_ASCII, NULL, NULL},
    {S("key\x7f@maf.example.com"), SAEF_E_ID_NON_ASCII, NULL, NULL},
    {S("key@maf.example.com\n"), SAEF_E_ID_NON_ASCII, NULL, NULL},
    /* the '@' */
    {S("keymaf.example.com"), SAEF_E_ID_NO_AT, NULL, NULL},
    {S("k y"), SAEF_E_ID_NO_AT, NULL, NULL},
    {S("@"), SAEF_E_ID_REL_EMPTY, NULL, NULL},
    {S("@maf.example.com"), SAEF_E_ID_REL_EMPTY, NULL, NULL},
    {S("key@"), SAEF_E_ID_FQDN_EMPTY, NULL, NULL},
    {S("key@."), SAEF_E_ID_FQDN_EMPTY, NULL, NULL},
    {S("a@b@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    {S("key@@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    {S("@@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    /* relative part */
    {S(REL65 "@maf.example.com"), SAEF_E_ID_REL_TOO_LONG, NULL, NULL},
    {S("k ey@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    {S("k/ey@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    {S("k+ey@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    {S("k%41@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    {S("k~ey@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    {S("k:ey@maf.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    /* FQDN part */
    {S("k@" L64 ".example.com"), SAEF_E_ID_FQDN_LABEL_TOO_LONG, NULL, NULL},
    {S("key@maf.example.com.."), SAEF_E_ID_FQDN_LABEL_EMPTY, NULL, NULL},
    {S("key@.maf.example.com"), SAEF_E_ID_FQDN_LABEL_EMPTY, NULL, NULL},
    {S("key@maf..example.com"), SAEF_E_ID_FQDN_LABEL_EMPTY, NULL, NULL},
    {S("key@-maf.example.com"), SAEF_E_ID_FQDN_HYPHEN, NULL, NULL},
    {S("key@maf-.example.com"), SAEF_E_ID_FQDN_HYPHEN, NULL, NULL},
    {S("key@maf.example.com-"), SAEF_E_ID_FQDN_HYPHEN, NULL, NULL},
    {S("key@maf_1.example.com"), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("key@maf.example.com:5684"), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("key@maf.example.com/x"), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("key@maf example.com"), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("key@::1"), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("key@192.168.1.10"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("key@192.168.1.10."), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("key@127.1"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("key@0x7f000001"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("key@[::1]"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("key@[2001:db8::1]"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("key@maf.example.123"), SAEF_E_ID_FQDN_NUMERIC_TLD, NULL, NULL},
};

typedef saef_rc_t (*scoped_fn)(const char *, size_t, saef_id_scoped_t *);

static void run_scoped(const char *what, scoped_fn fn, const struct scoped_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct scoped_row *r = &rows[i];
        saef_id_scoped_t out, before;
        memset(&out, 0x5a, sizeof(out));
        before = out;
        saef_rc_t rc = fn(r->in, r->len, &out);
        check_rc(what, i, rc, r->rc);
        if (rc == SAEF_OK) {
            check_span(what, i, out.rel, r->rel, r->in, r->len);
            check_span(what, i, out.fqdn, r->fqdn, r->in, r->len);
        } else if (memcmp(&out, &before, sizeof(out)) != 0) {
            print_error("%s row %zu: out written on error\n", what, i);
            fail();
        }
    }
}

static void test_keyid_table(void **state)
{
    (void)state;
    run_scoped("keyid", saef_id_keyid_parse, keyid_rows, ROWS(keyid_rows));
}

static void test_kmid_table(void **state)
{
    (void)state;
    run_scoped("kmid", saef_id_kmid_parse, keyid_rows, ROWS(keyid_rows));
}

static void test_kpsaid_table(void **state)
{
    (void)state;
    run_scoped("kpsaid", saef_id_kpsaid_parse, keyid_rows, ROWS(keyid_rows));
}

/* KeID: the Key Identifier rules first, then hexBinary (TS-0003 10.3.4). */
static const struct scoped_row keid_rows[] = {
    {S("00112233445566778899aabbccddeeff@mef.example.com"), SAEF_OK,
     "00112233445566778899aabbccddeeff", "mef.example.com"},
    {S("0A1b@MEF.example.com."), SAEF_OK, "0A1b", "MEF.example.com"},
    {S(HEX64 "@mef.example.com"), SAEF_OK, HEX64, "mef.example.com"},
    {S("0a1@mef.example.com"), SAEF_E_ID_HEX, NULL, NULL},
    {S("0g@mef.example.com"), SAEF_E_ID_HEX, NULL, NULL},
    {S("key1@mef.example.com"), SAEF_E_ID_HEX, NULL, NULL},
    {S("0a.b@mef.example.com"), SAEF_E_ID_HEX, NULL, NULL},
    {S("0a-b@mef.example.com"), SAEF_E_ID_HEX, NULL, NULL},
    {S("0 a@mef.example.com"), SAEF_E_ID_REL_CHAR, NULL, NULL},
    {S("@mef.example.com"), SAEF_E_ID_REL_EMPTY, NULL, NULL},
    {S(HEX64 "0a@mef.example.com"), SAEF_E_ID_REL_TOO_LONG, NULL, NULL},
    {S("0a0a"), SAEF_E_ID_NO_AT, NULL, NULL},
    {S("0a@[::1]"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("0a@mef.example.com\0"), SAEF_E_ID_NUL, NULL, NULL},
};

static void test_keid_table(void **state)
{
    (void)state;
    run_scoped("keid", saef_id_keid_parse, keid_rows, ROWS(keid_rows));
}

/* ---- FQDN ---- */

static const struct scoped_row fqdn_rows[] = {
    /* rel unused; fqdn is the expected span */
    {S("maf.example.com"), SAEF_OK, NULL, "maf.example.com"},
    {S("maf.example.com."), SAEF_OK, NULL, "maf.example.com"},
    {S("MAF.Example.COM"), SAEF_OK, NULL, "MAF.Example.COM"},
    {S("localhost"), SAEF_OK, NULL, "localhost"},
    {S("xn--maf.example.com"), SAEF_OK, NULL, "xn--maf.example.com"},
    {S("123.example.com"), SAEF_OK, NULL, "123.example.com"},
    {S(L63 ".com"), SAEF_OK, NULL, L63 ".com"},
    {S(FQDN253), SAEF_OK, NULL, FQDN253},
    {S(FQDN253 "."), SAEF_OK, NULL, FQDN253},
    {S(""), SAEF_E_ID_EMPTY, NULL, NULL},
    {S("maf.example.com\0"), SAEF_E_ID_NUL, NULL, NULL},
    {S("m\303\244f.example.com"), SAEF_E_ID_NON_ASCII, NULL, NULL},
    {S("maf\x7f.example.com"), SAEF_E_ID_NON_ASCII, NULL, NULL},
    {S("maf.example.com\r"), SAEF_E_ID_NON_ASCII, NULL, NULL},
    {S("."), SAEF_E_ID_FQDN_EMPTY, NULL, NULL},
    {S(FQDN254), SAEF_E_ID_FQDN_TOO_LONG, NULL, NULL},
    {S(L64 ".com"), SAEF_E_ID_FQDN_LABEL_TOO_LONG, NULL, NULL},
    {S(".."), SAEF_E_ID_FQDN_LABEL_EMPTY, NULL, NULL},
    {S("maf.example.com.."), SAEF_E_ID_FQDN_LABEL_EMPTY, NULL, NULL},
    {S(".maf.example.com"), SAEF_E_ID_FQDN_LABEL_EMPTY, NULL, NULL},
    {S("maf..example.com"), SAEF_E_ID_FQDN_LABEL_EMPTY, NULL, NULL},
    {S("-"), SAEF_E_ID_FQDN_HYPHEN, NULL, NULL},
    {S("-maf.example.com"), SAEF_E_ID_FQDN_HYPHEN, NULL, NULL},
    {S("maf-.example.com"), SAEF_E_ID_FQDN_HYPHEN, NULL, NULL},
    {S("maf_1.example.com"), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("maf.example.com "), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("a@maf.example.com"), SAEF_E_ID_FQDN_AT, NULL, NULL},
    /* first defect wins: within a label characters before hyphens, labels left to right */
    {S("-a_b.example.com"), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("-a.b_c"), SAEF_E_ID_FQDN_HYPHEN, NULL, NULL},
    {S("a..b_c"), SAEF_E_ID_FQDN_LABEL_EMPTY, NULL, NULL},
    {S("1.2.3.4"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("1.2.3.4."), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("192.168.000.001"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("4294967295"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("0x7f.0x0.0x0.0x1"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("[::1]"), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("[::1]."), SAEF_E_ID_FQDN_IP_LITERAL, NULL, NULL},
    {S("[::1"), SAEF_E_ID_FQDN_CHAR, NULL, NULL},
    {S("example.123"), SAEF_E_ID_FQDN_NUMERIC_TLD, NULL, NULL},
};

static void test_fqdn_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(fqdn_rows); i++) {
        const struct scoped_row *r = &fqdn_rows[i];
        saef_span_t out = {.ptr = NULL, .len = 12345};
        saef_rc_t rc = saef_id_fqdn_check(r->in, r->len, &out);
        check_rc("fqdn", i, rc, r->rc);
        if (rc == SAEF_OK)
            check_span("fqdn", i, out, r->fqdn, r->in, r->len);
        else
            check_bool("fqdn out untouched", i, out.ptr == NULL && out.len == 12345, true);
        /* out is optional and does not change the verdict */
        check_rc("fqdn without out", i, saef_id_fqdn_check(r->in, r->len, NULL), r->rc);
    }
}

struct pair_row {
    const char *a;
    size_t alen;
    const char *b;
    size_t blen;
    bool equal;
};

static const struct pair_row fqdn_equal_rows[] = {
    {S("maf.example.com"), S("maf.example.com"), true},
    {S("MAF.Example.COM"), S("maf.example.com"), true},
    {S("maf.example.com."), S("maf.example.com"), true},
    {S("maf.example.com"), S("MAF.EXAMPLE.COM."), true},
    {S("maf.example.com."), S("maf.example.com."), true},
    {S("bad_name"), S("BAD_NAME"), true},
    {S("maf.example.com"), S("maf.example.org"), false},
    {S("maf.example.com"), S("maf.example.co"), false},
    {S("maf.example.com.."), S("maf.example.com"), false},
    {S("maf.example.com"), S("maf.example.com\0"), false},
    {S("m\303\204f"), S("m\303\244f"), false},
    {S("a["), S("a{"), false},
    {S("a@"), S("a`"), false},
};

static void test_fqdn_equal_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(fqdn_equal_rows); i++) {
        const struct pair_row *r = &fqdn_equal_rows[i];
        check_bool("fqdn_equal", i, saef_id_fqdn_equal(r->a, r->alen, r->b, r->blen), r->equal);
        check_bool("fqdn_equal swapped", i, saef_id_fqdn_equal(r->b, r->blen, r->a, r->alen),
                   r->equal);
    }
}

/* ---- KmID equality (TS-0003 10.6: relative part not case sensitive) ---- */

static const struct pair_row kmid_equal_rows[] = {
    {S("km-01@maf.example.com"), S("km-01@maf.example.com"), true},
    {S("KM-01@MAF.example.com"), S("km-01@maf.EXAMPLE.com."), true},
    {S("km-01@maf.example.com"), S("km-02@maf.example.com"), false},
    {S("km-01@maf.example.com"), S("km-01@maf.example.org"), false},
    {S("km-01@maf.example.com"), S("km-01x@maf.example.com"), false},
    {S("km-01@maf.example.com"), S("km-01@maf.example.com\0"), false},
    {S("km@bad_maf"), S("km@bad_maf"), false},
    {S("km@maf.example.com"), S("km@maf_example"), false},
    {S("a@b@maf.example.com"), S("a@b@maf.example.com"), false},
    {S(""), S(""), false},
};

static void test_kmid_equal_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(kmid_equal_rows); i++) {
        const struct pair_row *r = &kmid_equal_rows[i];
        check_bool("kmid_equal", i, saef_id_kmid_equal(r->a, r->alen, r->b, r->blen), r->equal);
        check_bool("kmid_equal swapped", i, saef_id_kmid_equal(r->b, r->blen, r->a, r->alen),
                   r->equal);
    }
}

/* ---- format ---- */

struct format_row {
    const char *rel;
    size_t rel_len;
    const char *fqdn;
    size_t fqdn_len;
    size_t buflen;
    saef_rc_t rc;
    const char *out; /* "" on every error */
};

static const struct format_row format_rows[] = {
    {S("key"), S("maf.example.com"), 64, SAEF_OK, "key@maf.example.com"},
    {S("key"), S("maf.example.com."), 64, SAEF_OK, "key@maf.example.com"},
    {S("Key"), S("MAF.example.com"), 64, SAEF_OK, "Key@MAF.example.com"},
    {S("key"), S("maf.example.com"), 20, SAEF_OK, "key@maf.example.com"},
    {S("key"), S("maf.example.com"), 19, SAEF_E_BUFFER_TOO_SMALL, ""},
    {S("key"), S("maf.example.com"), 1, SAEF_E_BUFFER_TOO_SMALL, ""},
    {S(REL64), S(FQDN190), 256, SAEF_OK, REL64 "@" FQDN190},
    {S("k"), S(FQDN253 "."), 256, SAEF_OK, "k@" FQDN253},
    {S(REL64), S(FQDN191), 300, SAEF_E_ID_TOO_LONG, ""},
    {S(""), S("maf.example.com"), 64, SAEF_E_ID_REL_EMPTY, ""},
    {S("a@b"), S("maf.example.com"), 64, SAEF_E_ID_REL_CHAR, ""},
    {S("bad rel"), S("bad_fqdn"), 64, SAEF_E_ID_REL_CHAR, ""},
    {S(REL65), S("maf.example.com"), 128, SAEF_E_ID_REL_TOO_LONG, ""},
    {S("k\0"), S("maf.example.com"), 64, SAEF_E_ID_NUL, ""},
    {S("k\xc3\xa9"), S("maf.example.com"), 64, SAEF_E_ID_NON_ASCII, ""},
    {S("k\t"), S("maf.example.com"), 64, SAEF_E_ID_NON_ASCII, ""},
    {S("k\x7f"), S("maf.example.com"), 64, SAEF_E_ID_NON_ASCII, ""},
    {S("key"), S(""), 64, SAEF_E_ID_FQDN_EMPTY, ""},
    {S("key"), S("[::1]"), 64, SAEF_E_ID_FQDN_IP_LITERAL, ""},
    {S("key"), S("maf.example.com.."), 64, SAEF_E_ID_FQDN_LABEL_EMPTY, ""},
    {S("key"), S("maf.exa\0mple.com"), 64, SAEF_E_ID_NUL, ""},
};

static void test_format_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(format_rows); i++) {
        const struct format_row *r = &format_rows[i];
        char buf[320]; /* larger than any row's buflen */
        memset(buf, 'X', sizeof(buf));
        saef_rc_t rc =
            saef_id_scoped_format(r->rel, r->rel_len, r->fqdn, r->fqdn_len, buf, r->buflen);
        check_rc("format", i, rc, r->rc);
        if (strcmp(buf, r->out) != 0) {
            print_error("format row %zu: \"%s\", want \"%s\"\n", i, buf, r->out);
            fail();
        }
        /* nothing past the caller's buflen is touched */
        check_bool("format stays in buffer", i, buf[r->buflen] == 'X', true);
    }
}

/* ---- Credential-ID (TS-0003 10.4, 12.3.2.1) ---- */

static const unsigned credid_known[] = {10, 11, 12, 13, 14, 15, 16, 30, 31, 32, 33,
                                        34, 41, 42, 43, 44, 45, 51, 52, 53, 54, 55};
static const unsigned credid_unknown[] = {0,  1,  9,  17, 20,  29,   35,      40,
                                          46, 50, 56, 99, 100, 1011, UINT_MAX};

static void test_credid_types(void **state)
{
    (void)state;
    char in[32];
    saef_credid_t out;
    for (size_t i = 0; i < ROWS(credid_known); i++) {
        unsigned t = credid_known[i];
        check_bool("credid known", i, saef_credid_type_known(t), true);
        assert_string_not_equal(saef_credid_type_name(t), "unknown");
        int n = snprintf(in, sizeof(in), "%u-value", t);
        check_rc("credid known parse", i, saef_id_credid_parse(in, (size_t)n, &out), SAEF_OK);
        assert_int_equal(out.type, t);
    }
    for (size_t i = 0; i < ROWS(credid_unknown); i++) {
        unsigned t = credid_unknown[i];
        check_bool("credid unknown", i, saef_credid_type_known(t), false);
        assert_string_equal(saef_credid_type_name(t), "unknown");
        int n = snprintf(in, sizeof(in), "%u-value", t);
        check_rc("credid unknown parse", i, saef_id_credid_parse(in, (size_t)n, &out),
                 SAEF_E_ID_CREDID_TYPE);
    }
    /* the enum spells the spec's numbers */
    assert_int_equal(SAEF_CREDID_KPMID, 10);
    assert_int_equal(SAEF_CREDID_KMID, 11);
    assert_int_equal(SAEF_CREDID_KPSAID_KCID, 12);
    assert_int_equal(SAEF_CREDID_CSE_ID_CERT, 32);
    assert_int_equal(SAEF_CREDID_NODE_ID_CERT, 34);
    assert_non_null(strstr(saef_credid_type_name(10), "KpmID"));
    assert_non_null(strstr(saef_credid_type_name(11), "KmID"));
    assert_non_null(strstr(saef_credid_type_name(12), "KpsaID"));
    assert_non_null(strstr(saef_credid_type_name(32), "CSE-ID"));
    assert_non_null(strstr(saef_credid_type_name(33), "AE-ID"));
}

struct credid_row {
    const char *in;
    size_t len;
    saef_rc_t rc;
    unsigned type;
    const char *value;
};

static const struct credid_row credid_rows[] = {
    {S("10-thiskey@mymef.com"), SAEF_OK, 10, "thiskey@mymef.com"}, /* TS-0003 12.2 */
    {S("11-km-01@maf.example.com"), SAEF_OK, 11, "km-01@maf.example.com"},
    {S("12-0123abcd"), SAEF_OK, 12, "0123abcd"},
    {S("33-Cae.x_y"), SAEF_OK, 33, "Cae.x_y"},
    {S("11-a-b"), SAEF_OK, 11, "a-b"},
    {S("11--"), SAEF_OK, 11, "-"},
    {S("11-@"), SAEF_OK, 11, "@"},
    {S("55-" V252), SAEF_OK, 55, V252},
    {S(""), SAEF_E_ID_EMPTY, 0, NULL},
    {S("11-" V252 "z"), SAEF_E_ID_TOO_LONG, 0, NULL},
    {S("11-a\0"), SAEF_E_ID_NUL, 0, NULL},
    {S("11\0-a"), SAEF_E_ID_NUL, 0, NULL},
    {S("11-\xc3\xa9"), SAEF_E_ID_NON_ASCII, 0, NULL},
    {S("11"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("0-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("9-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("17-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("99-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("011-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("01-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("+11-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S(" 11-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("1a-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL},
    {S("4294967307-x"), SAEF_E_ID_CREDID_TYPE, 0, NULL}, /* 2^32 + 11 */
    {S("11-"), SAEF_E_ID_CREDID_VALUE, 0, NULL},
    {S("11-a b"), SAEF_E_ID_CREDID_VALUE, 0, NULL},
    {S("11-a/b"), SAEF_E_ID_CREDID_VALUE, 0, NULL},
    {S("11-a+b"), SAEF_E_ID_CREDID_VALUE, 0, NULL},
    {S("11-a%20"), SAEF_E_ID_CREDID_VALUE, 0, NULL},
    {S("11-a:b"), SAEF_E_ID_CREDID_VALUE, 0, NULL},
};

static void test_credid_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(credid_rows); i++) {
        const struct credid_row *r = &credid_rows[i];
        saef_credid_t out = {.type = 7777, .value = {NULL, 0}};
        saef_rc_t rc = saef_id_credid_parse(r->in, r->len, &out);
        check_rc("credid", i, rc, r->rc);
        if (rc == SAEF_OK) {
            assert_int_equal(out.type, r->type);
            check_span("credid", i, out.value, r->value, r->in, r->len);
        } else {
            check_bool("credid out untouched", i, out.type == 7777, true);
        }
    }
}

struct from_kmid_row {
    const char *in;
    size_t len;
    size_t buflen;
    saef_rc_t rc;
    const char *out;
};

static const struct from_kmid_row from_kmid_rows[] = {
    {S("km-01@maf.example.com"), 64, SAEF_OK, "11-km-01@maf.example.com"},
    {S("KM-01@MAF.example.com."), 64, SAEF_OK, "11-KM-01@MAF.example.com"},
    {S("km-01@maf.example.com"), 25, SAEF_OK, "11-km-01@maf.example.com"},
    {S("km-01@maf.example.com"), 24, SAEF_E_BUFFER_TOO_SMALL, ""},
    {S(REL64 "@" FQDN187), 256, SAEF_OK, "11-" REL64 "@" FQDN187},
    {S(REL64 "@" FQDN188), 300, SAEF_E_ID_TOO_LONG, ""},
    {S(""), 64, SAEF_E_ID_EMPTY, ""},
    {S("km-01"), 64, SAEF_E_ID_NO_AT, ""},
    {S("km 01@maf.example.com"), 64, SAEF_E_ID_REL_CHAR, ""},
    {S("km@1.2.3.4"), 64, SAEF_E_ID_FQDN_IP_LITERAL, ""},
    {S("km@maf.example.com\0"), 64, SAEF_E_ID_NUL, ""},
};

static void test_credid_from_kmid(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(from_kmid_rows); i++) {
        const struct from_kmid_row *r = &from_kmid_rows[i];
        char buf[320]; /* larger than any row's buflen */
        memset(buf, 'X', sizeof(buf));
        saef_rc_t rc = saef_id_credid_from_kmid(r->in, r->len, buf, r->buflen);
        check_rc("credid_from_kmid", i, rc, r->rc);
        assert_string_equal(buf, r->out);
        check_bool("credid_from_kmid stays in buffer", i, buf[r->buflen] == 'X', true);
        if (rc == SAEF_OK) {
            saef_credid_t c;
            check_rc("credid_from_kmid reparse", i, saef_id_credid_parse(buf, strlen(buf), &c),
                     SAEF_OK);
            assert_int_equal(c.type, 11);
        }
    }
}

/* ---- CSE-ID / AE-ID (TS-0001 7.2) ---- */

struct m2m_row {
    const char *in;
    size_t len;
    saef_rc_t rc;
    saef_m2m_id_kind_t kind;
    const char *sp, *cse, *ae;
};

/* clang-format off */
#define M2M_BAD(lit, code) {S(lit), code, SAEF_M2M_ID_INVALID, "", "", ""}
/* clang-format on */

static const struct m2m_row m2m_rows[] = {
    {S("/in-cse"), SAEF_OK, SAEF_M2M_ID_CSE_SP_RELATIVE, "", "in-cse", ""},
    {S("//sp.example.com/in-cse"), SAEF_OK, SAEF_M2M_ID_CSE_ABSOLUTE, "sp.example.com", "in-cse",
     ""},
    {S("Cae01"), SAEF_OK, SAEF_M2M_ID_AE_SP_RELATIVE, "", "", "Cae01"},
    {S("Sae01"), SAEF_OK, SAEF_M2M_ID_AE_SP_RELATIVE, "", "", "Sae01"},
    {S("/in-cse/Cae01"), SAEF_OK, SAEF_M2M_ID_AE_CSE_RELATIVE, "", "in-cse", "Cae01"},
    {S("/in-cse/Sae01"), SAEF_OK, SAEF_M2M_ID_AE_CSE_RELATIVE, "", "in-cse", "Sae01"},
    {S("//sp.example.com/in-cse/Cae01"), SAEF_OK, SAEF_M2M_ID_AE_ABSOLUTE, "sp.example.com",
     "in-cse", "Cae01"},
    {S("//SP.example.com/id-in~1.x_y/S_a~b"), SAEF_OK, SAEF_M2M_ID_AE_ABSOLUTE, "SP.example.com",
     "id-in~1.x_y", "S_a~b"},
    {S("/" CSE254), SAEF_OK, SAEF_M2M_ID_CSE_SP_RELATIVE, "", CSE254, ""},
    M2M_BAD("", SAEF_E_ID_EMPTY),
    M2M_BAD("/" CSE254 "z", SAEF_E_ID_TOO_LONG),
    M2M_BAD("/cse\0", SAEF_E_ID_NUL),
    M2M_BAD("/c\xc3\xa9", SAEF_E_ID_NON_ASCII),
    M2M_BAD("//", SAEF_E_ID_SP_ID),
    M2M_BAD("///x", SAEF_E_ID_SP_ID),
    M2M_BAD("//bad_dom/cse", SAEF_E_ID_SP_ID),
    M2M_BAD("//sp.example.com./cse", SAEF_E_ID_SP_ID),
    M2M_BAD("//1.2.3.4/cse", SAEF_E_ID_SP_ID),
    M2M_BAD("//[::1]/cse", SAEF_E_ID_SP_ID),
    M2M_BAD("//-sp.example.com/cse", SAEF_E_ID_SP_ID),
    M2M_BAD("/", SAEF_E_ID_CSE_ID),
    M2M_BAD("//dom", SAEF_E_ID_CSE_ID),
    M2M_BAD("//dom/", SAEF_E_ID_CSE_ID),
    M2M_BAD("//dom//Cae", SAEF_E_ID_CSE_ID),
    M2M_BAD("/c se", SAEF_E_ID_CSE_ID),
    M2M_BAD("/cse@x", SAEF_E_ID_CSE_ID),
    M2M_BAD("/cse%41", SAEF_E_ID_CSE_ID),
    M2M_BAD("/cse/", SAEF_E_ID_AE_ID),
    M2M_BAD("/cse/X1", SAEF_E_ID_AE_ID),
    M2M_BAD("/cse/C", SAEF_E_ID_AE_ID),
    M2M_BAD("/cse/Cae/extra", SAEF_E_ID_AE_ID),
    M2M_BAD("/cse/Cae/", SAEF_E_ID_AE_ID),
    M2M_BAD("//sp.example.com/cse/X1", SAEF_E_ID_AE_ID),
    M2M_BAD("X123", SAEF_E_ID_AE_ID),
    M2M_BAD("C", SAEF_E_ID_AE_ID),
    M2M_BAD("cae01", SAEF_E_ID_AE_ID),
    M2M_BAD("C ae", SAEF_E_ID_AE_ID),
    M2M_BAD("Cae@x", SAEF_E_ID_AE_ID),
};

static void test_m2m_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ROWS(m2m_rows); i++) {
        const struct m2m_row *r = &m2m_rows[i];
        saef_m2m_id_t out;
        memset(&out, 0x5a, sizeof(out));
        saef_rc_t rc = saef_id_m2m_classify(r->in, r->len, &out);
        check_rc("m2m", i, rc, r->rc);
        assert_int_equal(out.kind, r->kind);
        check_span("m2m sp", i, out.sp_domain, r->sp, r->in, r->len);
        check_span("m2m cse", i, out.cse_id, r->cse, r->in, r->len);
        check_span("m2m ae", i, out.ae_id, r->ae, r->in, r->len);
        bool cse = r->kind == SAEF_M2M_ID_CSE_SP_RELATIVE || r->kind == SAEF_M2M_ID_CSE_ABSOLUTE;
        bool ae = r->kind == SAEF_M2M_ID_AE_SP_RELATIVE || r->kind == SAEF_M2M_ID_AE_CSE_RELATIVE ||
                  r->kind == SAEF_M2M_ID_AE_ABSOLUTE;
        check_bool("is_cse_id", i, saef_id_is_cse_id(r->in, r->len), cse);
        check_bool("is_ae_id", i, saef_id_is_ae_id(r->in, r->len), ae);
    }
}

/* ---- arguments ---- */

static void test_null_arguments(void **state)
{
    (void)state;
    saef_id_scoped_t id;
    saef_credid_t cred;
    saef_m2m_id_t m2m;
    char buf[64];

    assert_int_equal(saef_id_keyid_parse(NULL, 5, &id), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_id_keyid_parse(S("k@maf.example.com"), NULL), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_id_keyid_parse(NULL, 0, &id), SAEF_E_ID_EMPTY);
    assert_int_equal(saef_id_keid_parse(S("0a@mef.example.com"), NULL), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_id_kmid_parse(NULL, 3, &id), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_id_kpsaid_parse(NULL, 3, &id), SAEF_E_INVALID_ARG);
    assert_false(saef_id_kmid_equal(NULL, 3, S("k@maf.example.com")));
    assert_int_equal(saef_id_fqdn_check(NULL, 3, NULL), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_id_fqdn_check(NULL, 0, NULL), SAEF_E_ID_EMPTY);
    assert_false(saef_id_fqdn_equal(NULL, 1, S("a")));
    assert_int_equal(saef_id_credid_parse(S("11-x"), NULL), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_id_credid_parse(NULL, 4, &cred), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_id_m2m_classify(S("/cse"), NULL), SAEF_E_INVALID_ARG);
    memset(&m2m, 0x5a, sizeof(m2m));
    assert_int_equal(saef_id_m2m_classify(NULL, 4, &m2m), SAEF_E_INVALID_ARG);
    assert_int_equal(m2m.kind, SAEF_M2M_ID_INVALID);
    assert_false(saef_id_is_cse_id(NULL, 4));
    assert_false(saef_id_is_ae_id(NULL, 4));

    memset(buf, 'X', sizeof(buf));
    assert_int_equal(saef_id_scoped_format(NULL, 3, S("maf.example.com"), buf, sizeof(buf)),
                     SAEF_E_INVALID_ARG);
    assert_string_equal(buf, "");
    assert_int_equal(saef_id_scoped_format(S("k"), NULL, 3, buf, sizeof(buf)), SAEF_E_INVALID_ARG);
    assert_int_equal(saef_id_scoped_format(S("k"), S("maf.example.com"), NULL, 0),
                     SAEF_E_BUFFER_TOO_SMALL);
    assert_int_equal(saef_id_credid_from_kmid(S("k@maf.example.com"), NULL, 0),
                     SAEF_E_BUFFER_TOO_SMALL);
    assert_int_equal(saef_id_credid_from_kmid(NULL, 3, buf, sizeof(buf)), SAEF_E_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyid_table),      cmocka_unit_test(test_kmid_table),
        cmocka_unit_test(test_kpsaid_table),     cmocka_unit_test(test_keid_table),
        cmocka_unit_test(test_fqdn_table),       cmocka_unit_test(test_fqdn_equal_table),
        cmocka_unit_test(test_kmid_equal_table), cmocka_unit_test(test_format_table),
        cmocka_unit_test(test_credid_types),     cmocka_unit_test(test_credid_table),
        cmocka_unit_test(test_credid_from_kmid), cmocka_unit_test(test_m2m_table),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests_name("saef_id", tests, NULL, NULL);
}
