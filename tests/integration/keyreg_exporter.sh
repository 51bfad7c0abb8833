#!/bin/sh
# saef-keyreg (Entity A) against the reference MAF saef-mafd, with Entity B played by curl.
#
# The exporter cross-check: saef-keyreg registers a key without keyValue and derives Kc from the
# TLS exporter on its side; saef-mafd derives it on its side.  Retrieving the key as Entity B
# (POST {B}/keyRetrieval, mutual TLS with Entity B's certificate) returns the MAF's Kc, which
# must equal the KC_HEX saef-keyreg printed, and the relativeKeyID must be saef-keyreg's KcID.
# Done with TLS 1.2 and TLS 1.3, in certificate and PSK mode; plus key-value round trips,
# update, delete, and the failures a user meets first.
set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
keyreg=$top_builddir/contrib/maf/saef-keyreg
mafd=$top_builddir/contrib/maf/saef-mafd

# Hard errors (99), not skips: this test runs in CI.
for tool in curl openssl base64 od sed; do
    command -v "$tool" >/dev/null || { echo "ERROR: $tool is not installed"; exit 99; }
done
for prog in "$keyreg" "$mafd"; do
    [ -x "$prog" ] || { echo "ERROR: $prog is not built"; exit 99; }
done

fqdn=maf.example.test
idb=//sp.example.test/in-cse
ida=//sp.example.test/in-cse/Cdevice01
kmid=cdevice01@$fqdn
admin=sp.example.test

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keyreg-exporter.XXXXXX")
mafd_pid=
cleanup() {
    if [ -n "$mafd_pid" ]; then
        kill "$mafd_pid" 2>/dev/null || :
        wait "$mafd_pid" 2>/dev/null || :
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok $pass - $1"; }
not_ok() {
    fail=$((fail + 1))
    echo "not ok - $1"
    [ -z "${2:-}" ] || sed 's/^/#   /' "$2"
}
# grep_check DESCRIPTION PATTERN FILE: FILE has a line matching PATTERN (grep BRE).
grep_check() {
    if grep -q -- "$2" "$3"; then ok "$1"; else not_ok "$1" "$3"; fi
}
# check DESCRIPTION EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        fail=$((fail + 1))
        echo "not ok - $1"
        echo "#   expected: $2"
        echo "#   actual:   $3"
    fi
}

sh "$top_srcdir/tests/fixtures/mkpki.sh" "$tmp/pki" "$fqdn" "$idb" "$ida" >/dev/null
pki=$tmp/pki

cat >"$tmp/mafd.ini" <<EOF
[maf]
fqdn = $fqdn
listen = 127.0.0.1:0
base_path = /maf
cert = $pki/maf.crt
key = $pki/maf.key
ca = $pki/ca.crt
max_key_lifetime = 1d
max_client_lifetime = 7d

[client.entity-a]
kmid = $kmid
km_file = $pki/entity-a.km
id = $ida
EOF

"$mafd" -c "$tmp/mafd.ini" 2>"$tmp/mafd.log" &
mafd_pid=$!
port=
i=0
while [ $i -lt 100 ]; do
    port=$(sed -n 's/^saef-mafd: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$tmp/mafd.log")
    [ -n "$port" ] && break
    kill -0 "$mafd_pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
done
if [ -z "$port" ]; then
    echo "ERROR: saef-mafd did not start"
    sed 's/^/#   /' "$tmp/mafd.log"
    exit 99
fi
echo "# saef-mafd listening on 127.0.0.1:$port"

maf="--maf https://$fqdn:$port/maf --connect-to 127.0.0.1:$port"
cert_a="--ca $pki/ca.crt --cert $pki/entity-a.crt --key $pki/entity-a.key --origin $ida"
psk_a="--kmid $kmid --km-file $pki/entity-a.km"
key_opts="--admin-fqdn $admin --target $idb --lifetime 600"

# run_keyreg NAME ARGS...: run saef-keyreg, keep stdout in $tmp/NAME.out and stderr in
# $tmp/NAME.err, exit status in $rc.
run_keyreg() {
    name=$1
    shift
    rc=0
    "$keyreg" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
}

# load NAME: source the env lines of $tmp/NAME.out into a clean set of variables.
load() {
    KEY_ID='' REL_KEY_ID='' KC_HEX='' KCID_HEX='' EXPIRES='' KEY_SOURCE='' MAF_TLS=''
    SOURCE_ID='' TARGET=''
    # shellcheck disable=SC1090
    . "$tmp/$1.out"
}

# retrieve REL_KEY_ID: Entity B's key retrieval; sets ret_rsc, ret_hex (keyValue as hex),
# ret_exp (expirationTime) and ret_src (sourceMAFClientID).
retrieve() {
    ret_rsc='' ret_hex='' ret_exp='' ret_src=''
    curl -sS -o "$tmp/ret.body" -D "$tmp/ret.hdr" \
        --cacert "$pki/ca.crt" --cert "$pki/entity-b.crt" --key "$pki/entity-b.key" \
        --connect-to "::127.0.0.1:$port" \
        -H "X-M2M-Origin: $idb" -H "X-M2M-RI: keyreg-test-$1" -H 'X-M2M-RVI: 3' \
        -H 'Accept: application/json' -H 'Content-Type: application/json' -H 'Expect:' \
        --data-binary "{\"relativeKeyID\":\"$1\"}" "https://$fqdn:$port/maf/keyRetrieval" ||
        return 0
    ret_rsc=$(tr -d '\r' <"$tmp/ret.hdr" | sed -n 's/^[Xx]-[Mm]2[Mm]-[Rr][Ss][Cc]: *//p')
    body=$(tr -d '\n\r' <"$tmp/ret.body")
    b64=$(printf '%s' "$body" | sed -n 's/.*"keyValue" *: *"\([A-Za-z0-9+/=]*\)".*/\1/p')
    [ -z "$b64" ] || ret_hex=$(printf '%s' "$b64" | base64 -d | od -An -v -tx1 | tr -d ' \n')
    ret_exp=$(printf '%s' "$body" | sed -n 's/.*"expirationTime" *: *"\([0-9T,]*\)".*/\1/p')
    ret_src=$(printf '%s' "$body" | sed -n 's/.*"sourceMAFClientID" *: *"\([^"]*\)".*/\1/p')
}

# cross_check NAME TLS SOURCE: the key registered by run NAME is what Entity B retrieves.
cross_check() {
    load "$1"
    check "$1: saef-keyreg ran on $2" "$2" "$MAF_TLS"
    check "$1: Key Identifier is relativeKeyID@MAF-FQDN" "$REL_KEY_ID@$fqdn" "$KEY_ID"
    retrieve "$REL_KEY_ID"
    check "$1: Entity B retrieves the key (RSC)" 2000 "$ret_rsc"
    check "$1: retrieved keyValue equals saef-keyreg's Kc" "$KC_HEX" "$ret_hex"
    check "$1: retrieved expirationTime equals the printed one" "$EXPIRES" "$ret_exp"
    check "$1: sourceMAFClientID" "$3" "$ret_src"
    check "$1: printed source is the MAF's" "$ret_src" "$SOURCE_ID"
    check "$1: printed target" "$idb" "$TARGET"
}

# --- exporter-derived keys, certificate mode, TLS 1.2 and TLS 1.3 ---
for v in 1.2 1.3; do
    run_keyreg "exp-cert-$v" key $maf $cert_a $key_opts --exporter --register --tls$v \
        --format=env
    if [ "$rc" -ne 0 ]; then
        not_ok "exp-cert-$v: saef-keyreg key --exporter exits 0 (got $rc)" "$tmp/exp-cert-$v.err"
        continue
    fi
    ok "exp-cert-$v: saef-keyreg key --exporter exits 0"
    load "exp-cert-$v"
    check "exp-cert-$v: key source" exporter "$KEY_SOURCE"
    # relativeKeyID (from the MAF) against the KcID saef-keyreg computed (exporter bytes 0..15).
    check "exp-cert-$v: relativeKeyID equals saef-keyreg's KcID" "$KCID_HEX" "$REL_KEY_ID"
    cross_check "exp-cert-$v" "TLSv$v" "$ida"
done
load exp-cert-1.2
k12=$KC_HEX
load exp-cert-1.3
if [ -n "$k12" ] && [ "$k12" != "$KC_HEX" ]; then
    ok "the TLS 1.2 and 1.3 connections gave different keys"
else
    not_ok "the TLS 1.2 and 1.3 connections gave different keys"
fi

# --- exporter-derived keys in PSK mode (KmID/Km), both TLS versions ---
for v in 1.2 1.3; do
    run_keyreg "exp-psk-$v" key $maf $psk_a $key_opts --exporter --register --tls$v --format=env
    if [ "$rc" -ne 0 ]; then
        not_ok "exp-psk-$v: PSK-mode registration exits 0 (got $rc)" "$tmp/exp-psk-$v.err"
        continue
    fi
    ok "exp-psk-$v: PSK-mode registration exits 0"
    load "exp-psk-$v"
    check "exp-psk-$v: relativeKeyID equals saef-keyreg's KcID" "$KCID_HEX" "$REL_KEY_ID"
    cross_check "exp-psk-$v" "TLSv$v" "$ida"
done

# --- self-generated key (keyValue), PSK mode and certificate mode ---
run_keyreg gen-psk key $maf $psk_a $key_opts --generate --format=env
check "gen-psk: saef-keyreg key --generate exits 0" 0 "$rc"
load gen-psk
check "gen-psk: key source" generated "$KEY_SOURCE"
check "gen-psk: Kc is 32 bytes" 64 "${#KC_HEX}"
cross_check gen-psk "$MAF_TLS" "$ida"

# --- a given printable test key: round trip, and the coap-client line appears ---
testkey='coap-demo-key-0123456789abcdef!!'
testhex=$(printf '%s' "$testkey" | od -An -v -tx1 | tr -d ' \n')
run_keyreg hex-text key $maf $cert_a $key_opts --key-hex "$testhex" --entity-b 127.0.0.1:5684
check "hex-text: saef-keyreg key --key-hex exits 0" 0 "$rc"
rel=$(sed -n 's/^Key Identifier: \([A-Za-z0-9._-]*\)@.*/\1/p' "$tmp/hex-text.out")
retrieve "$rel"
check "hex-text: retrieved keyValue equals the given key" "$testhex" "$ret_hex"
grep_check "hex-text: printable key gets a coap-client line" \
    "^  coap-client-openssl -u $rel@$fqdn -k '$testkey' coaps://127.0.0.1:5684/\$" \
    "$tmp/hex-text.out"
grep_check "hex-text: openssl s_client -dtls1_2 line" \
    "s_client -connect 127.0.0.1:5684 -dtls1_2 -psk_identity $rel@$fqdn -psk $testhex\$" \
    "$tmp/hex-text.out"
if grep -q 's_client\|coap-client\|gnutls-cli' "$tmp/gen-psk.out"; then
    not_ok "--format=env prints no command lines" "$tmp/gen-psk.out"
else ok "--format=env prints no command lines"; fi

# --- update: a new lifetime reaches Entity B's next retrieval ---
load gen-psk
old_exp=$EXPIRES
gen_rel=$REL_KEY_ID
run_keyreg upd update "$KEY_ID" $maf $psk_a --lifetime 120 --format=env
check "update exits 0" 0 "$rc"
load upd
check "update: same RelativeKeyID" "$gen_rel" "$REL_KEY_ID"
retrieve "$gen_rel"
check "update: Entity B sees the new expirationTime" "$EXPIRES" "$ret_exp"
if [ "$EXPIRES" != "$old_exp" ]; then ok "update: expirationTime changed"; else
    not_ok "update: expirationTime changed"
fi

# --- delete: the key is gone for Entity B ---
run_keyreg del delete "$gen_rel" $maf $psk_a --format=env
check "delete exits 0" 0 "$rc"
check "delete prints DELETED" "DELETED=$gen_rel" "$(cat "$tmp/del.out")"
retrieve "$gen_rel"
check "delete: Entity B gets 4004" 4004 "$ret_rsc"
run_keyreg del2 delete "$gen_rel" $maf $psk_a
check "delete twice: exit 1" 1 "$rc"
grep_check "delete twice: RSC 4004 reported" 'X-M2M-RSC 4004' "$tmp/del2.err"

# --- failures the user sees ---
# No client registration for this adminFQDN: 4103 with the MAF's m2m:dbg.
run_keyreg noreg key $maf $cert_a --admin-fqdn other.example.test --target "$idb" --generate
check "no client registration: exit 1" 1 "$rc"
grep_check "no client registration: RSC and dbg reported" \
    'HTTP 403, X-M2M-RSC 4103 ORIGINATOR_HAS_NO_PRIVILEGE: .' "$tmp/noreg.err"
# A wrong Km fails the TLS handshake: exit 1, curl's error text.
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/wrong.km"
chmod 600 "$tmp/wrong.km"
for v in 1.2 1.3; do
    run_keyreg "wrongkm-$v" register $maf --kmid "$kmid" --km-file "$tmp/wrong.km" \
        --admin-fqdn "$admin" --tls$v
    check "wrong Km, TLS $v: exit 1" 1 "$rc"
    grep_check "wrong Km, TLS $v: TLS error reported" 'curl error' "$tmp/wrongkm-$v.err"
done
# The MAF certificate must match the MAF-FQDN even through --connect-to.
run_keyreg wrongname register --maf "https://other.example.test:$port/maf" \
    --connect-to "127.0.0.1:$port" $cert_a --admin-fqdn "$admin"
check "MAF-FQDN not in the MAF certificate: exit 1" 1 "$rc"
# Usage errors exit 2 and contact nobody.
run_keyreg usage1 key $maf $cert_a --admin-fqdn "$admin" --target "$idb"
check "key without a key source: exit 2" 2 "$rc"
run_keyreg usage2 key $maf $cert_a --admin-fqdn "$admin" --target in-cse --generate
check "relative target ID: exit 2" 2 "$rc"
run_keyreg usage3 retrieve ABC $maf $cert_a
check "retrieve is not Entity A's: exit 2" 2 "$rc"
chmod 644 "$tmp/wrong.km"
run_keyreg usage4 register $maf --kmid "$kmid" --km-file "$tmp/wrong.km" --admin-fqdn "$admin"
check "Km file readable by others: exit 2" 2 "$rc"

if kill -0 "$mafd_pid" 2>/dev/null; then ok "saef-mafd still running"; else
    not_ok "saef-mafd still running" "$tmp/mafd.log"
fi
echo "keyreg_exporter: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
