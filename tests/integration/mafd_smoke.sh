#!/bin/sh
# Smoke test of saef-mafd (docs/reference-maf.md) with stock clients: curl in certificate mode,
# openssl s_client in PSK mode.  Asserts HTTP status and X-M2M-RSC of every answer, the TLS
# exporter derivation against s_client's -keymatexport, the fault modes and a clean exit.
#
# MAFD_WRAPPER runs the daemon under a tool, e.g.
#   MAFD_WRAPPER="valgrind -q --leak-check=full --errors-for-leak-kinds=all --error-exitcode=3"
set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
mafd=$builddir/contrib/maf/saef-mafd

. "$srcdir/tests/integration/mafd_lib.sh"
mafd_require curl openssl -- "$mafd"

dir=$(mktemp -d "${TMPDIR:-/tmp}/mafd_smoke.XXXXXX") || exit 99
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

fails=0
passes=0
pass() { passes=$((passes + 1)); echo "ok   - $1"; }
fail() { fails=$((fails + 1)); echo "FAIL - $1"; }

IDB=//sp.example.test/in-cse
IDA=//sp.example.test/in-cse/Cdevice01
KMID_A=cdevice01@maf.example.test
pki=$dir/pki
sh "$srcdir/tests/fixtures/mkpki.sh" "$pki" maf.example.test "$IDB" "$IDA" >/dev/null || exit 99

# A certificate of the test CA that maps to no MAF Client ID (3.2): its only name is a relative
# AE-ID.
(
    cd "$pki" && umask 077 &&
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out unmapped.key &&
        openssl req -new -key unmapped.key -subj "/CN=Cdevice01" -out unmapped.csr &&
        printf 'subjectAltName=URI:Cdevice01\nextendedKeyUsage=clientAuth\n' >unmapped.ext &&
        openssl x509 -req -in unmapped.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
            -extfile unmapped.ext -out unmapped.crt
) >/dev/null 2>&1 || exit 99

cat >"$dir/mafd.ini" <<EOF
[maf]
fqdn = maf.example.test
listen = 127.0.0.1:0
base_path = /maf
cert = $pki/maf.crt
key = $pki/maf.key
ca = $pki/ca.crt
max_key_lifetime = 6h
purge_interval = 1s

[client.entity-a]
kmid = $KMID_A
km_file = $pki/entity-a.km
id = $IDA
EOF

# start [ARGS...] and stop: tests/integration/mafd_lib.sh (the pid file is checked below).

# mc WHO METHOD PATH [curl args]: request as client certificate WHO; response in hdr and body.
# Sends X-M2M-RVI: 3 and a fresh X-M2M-RI unless $omit names them (omit is reset after use).
n=0
kr=0 # key retrieval requests sent, to compare with GET {B}/stats
omit=
mc() {
    who=$1 method=$2 path=$3
    shift 3
    n=$((n + 1))
    [ "$method $path" = "POST /keyRetrieval" ] && kr=$((kr + 1))
    case " $omit " in *" rvi "*) ;; *) set -- -H 'X-M2M-RVI: 3' "$@" ;; esac
    case " $omit " in *" ri "*) ;; *) set -- -H "X-M2M-RI: smoke-$n" "$@" ;; esac
    omit=
    rm -f "$dir/hdr" "$dir/body"
    curl -sS -o "$dir/body" -D "$dir/hdr" --cacert "$pki/ca.crt" --cert "$pki/$who.crt" \
        --key "$pki/$who.key" --resolve "maf.example.test:$port:127.0.0.1" -X "$method" \
        -H 'Expect:' "$@" "https://maf.example.test:$port/maf$path" 2>"$dir/curl.err"
}
# mb: Entity B with its Origin and, unless $omit names "ct", a JSON Content-Type.
mb() {
    case " $omit " in *" ct "*) ;; *) set -- "$@" -H 'Content-Type: application/json' ;; esac
    mc entity-b "$@" -H "X-M2M-Origin: $IDB"
}

hdr() { tr -d '\r' <"$dir/hdr" | sed -n "s/^$1: *//Ip" | head -n 1; }
member() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$dir/body" | head -n 1; }

# expect LABEL HTTP RSC: check the last response.
expect() {
    got_http=$(sed -n '1s/^HTTP\/1\.1 \([0-9]*\) .*/\1/p' "$dir/hdr" 2>/dev/null | tr -d '\r')
    got_rsc=$(hdr X-M2M-RSC 2>/dev/null)
    if [ "$got_http" = "$2" ] && [ "$got_rsc" = "$3" ]; then
        pass "$1 ($2/$3)"
    else
        fail "$1: expected $2/$3, got ${got_http:-none}/${got_rsc:-none} $(cat "$dir/body" \
            "$dir/curl.err" 2>/dev/null | tr -d '\n')"
    fi
}

# absent PATTERN FILE: grep finds nothing.
absent() { ! grep -q "$1" "$2"; }

# same A B: A is not empty and equals B.
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }

check() { # LABEL CONDITION...
    label=$1
    shift
    if "$@"; then pass "$label"; else fail "$label"; fi
}

start --pidfile "$dir/pid"
check "pidfile holds the daemon's pid" [ "$(cat "$dir/pid" 2>/dev/null)" = "$pid" ]

# --- health, client registration (certificate mode, Entity B) ---
mb GET /health
expect "health" 200 2000
check "health names the MAF Client ID" [ "$(member mafClientID)" = "$IDB" ]
check "X-M2M-RI echoed" [ "$(hdr X-M2M-RI)" = "smoke-$n" ]
check "Cache-Control no-store" [ "$(hdr Cache-Control)" = "no-store" ]
check "status line has no reason phrase" [ "$(head -n 1 "$dir/hdr" | tr -d '\r')" = "HTTP/1.1 200 " ]
mc entity-b GET /health
expect "health without X-M2M-Origin" 200 2000

creg='{"mafFQDN":"maf.example.test","expirationTime":"20991231T000000","labels":["role:entity-b"],"adminFQDN":"SP.Example.Test."}'
mb POST /clientRegistrations -d "$creg"
expect "client registration" 201 2001
regid=$(member mafClientRegID)
check "mafClientRegID is 32 upper-case hex" expr "$regid" : '[0-9A-F]\{32\}$' >/dev/null
check "Content-Location" [ "$(hdr Content-Location)" = "/maf/clientRegistrations/$regid" ]
check "adminFQDN lower case without dot" [ "$(member adminFQDN)" = "sp.example.test" ]
mb POST /clientRegistrations -d "$creg"
expect "client registration again (refresh)" 201 2001
check "refresh keeps mafClientRegID" [ "$(member mafClientRegID)" = "$regid" ]
mb PUT "/clientRegistrations/$(echo "$regid" | tr 'A-F' 'a-f')" -d '{"mafFQDN":"maf.example.test","labels":[]}'
expect "client registration update (lower-case ID)" 200 2004
check "update removed labels" absent labels "$dir/body"
mb PUT "/clientRegistrations/$regid" -d '{"mafFQDN":"maf.example.test"}'
expect "update without changeable member" 400 4000
mc entity-a PUT "/clientRegistrations/$regid" -H "X-M2M-Origin: $IDA" \
    -H 'Content-Type: application/json' -d '{"mafFQDN":"maf.example.test","labels":["x"]}'
expect "update of another client's registration" 403 4103
mb DELETE "/clientRegistrations/0123456789ABCDEF0123456789ABCDEF"
expect "de-registration of an unknown ID" 404 4004

# --- request checks of 5.5 ---
mb GET /nothing
expect "unknown path" 404 4004
mb GET /keyRetrieval
expect "wrong method" 405 4005
check "Allow: POST" [ "$(hdr Allow)" = "POST" ]
mb GET '/health?x=1'
expect "query" 400 4000
omit=rvi
mb GET /health -H 'X-M2M-RVI: 2a'
expect "X-M2M-RVI 2a" 501 4001
check "dbg names the release" grep -q 'release version 2a not supported; use 3' "$dir/body"
omit=rvi
mb GET /health
expect "X-M2M-RVI absent" 501 4001
mb GET /health -H 'X-M2M-RVI: 3'
expect "X-M2M-RVI twice" 501 4001
omit=ri
mb GET /health
expect "X-M2M-RI absent" 400 4000
check "no X-M2M-RI echoed" [ -z "$(hdr X-M2M-RI)" ]
mc entity-b POST /keyRetrieval -H 'Content-Type: application/json' -d '{"relativeKeyID":"x"}'
expect "X-M2M-Origin absent" 400 4000
mc entity-b POST /keyRetrieval -H 'X-M2M-Origin: //sp.example.test/other-cse' \
    -H 'Content-Type: application/json' -d '{"relativeKeyID":"A41C0E77B2D94F1385E6C2A9D07B3E5C"}'
expect "wrong X-M2M-Origin" 403 4106
omit=ct
mb POST /keyRetrieval -H 'Content-Type: application/x-www-form-urlencoded' -d 'relativeKeyID=x'
expect "wrong Content-Type" 415 4015
omit=ct
mb POST /keyRetrieval -H 'Content-Type: application/json; charset="UTF-8"' -d '{"relativeKeyID":"A41C0E77B2D94F1385E6C2A9D07B3E5C"}'
expect "charset parameter accepted" 404 4004
mb POST /keyRetrieval -d '{"relativeKeyID": '
expect "bad JSON" 400 4000
mb POST /keyRetrieval -d '{"relativeKeyID":"A41C0E77B2D94F1385E6C2A9D07B3E5C","relativeKeyID":"3F2A9C0D5B7E41A8926C0E1D4B3A5F70"}'
expect "duplicate member" 400 4000
check "dbg names the duplicate" grep -q 'duplicate member relativeKeyID' "$dir/body"
mb POST /keyRetrieval -d '{"relativeKeyID":"A41C0E77B2D94F1385E6C2A9D07B3E5C","suid":32}'
expect "unknown member" 400 4000
mb POST /keyRetrieval -d '{"relativeKeyID":null}'
expect "null member" 400 4000
mb POST /keyRetrieval -d "{\"relativeKeyID\":\"$(printf '%9000s' x | tr ' ' x)\"}"
expect "body over 8192 bytes" 400 4000
mb DELETE "/keyRegistrations/0123456789ABCDEF0123456789ABCDEF" -d '{}'
expect "DELETE with a body" 400 4000
mb POST /keyRetrieval -d '{"relativeKeyID":"0123456789ABCDEF0123456789ABCDEF"}'
expect "retrieval of an unknown ID" 404 4004

# --- Entity A in PSK mode: client registration, exporter-derived key, keyValue key ---
km_a=$(cat "$pki/entity-a.km")
# rq METHOD PATH [BODY] [last]: one HTTP/1.1 request as Entity A, for s_client's stdin.
rq() {
    conn=
    [ "${4:-}" = last ] && conn='Connection: close\r\n'
    printf "%s %s HTTP/1.1\r\nHost: maf.example.test\r\nX-M2M-Origin: %s\r\nX-M2M-RI: a-%s\r\nX-M2M-RVI: 3\r\n$conn" \
        "$1" "$2" "$KMID_A" "$2"
    if [ -n "${3:-}" ]; then
        printf 'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "${#3}" "$3"
    else
        printf '\r\n'
    fi
}
# psk VERSION: s_client as Entity A reading requests from stdin; output in $dir/psk.out.
psk() {
    timeout 20 openssl s_client "-$1" -connect "127.0.0.1:$port" -servername maf.example.test \
        -psk_identity "$KMID_A" -psk "$km_a" -keymatexport EXPORTER-oneM2M-Connection \
        -keymatexportlen 48 -ign_eof >"$dir/psk.out" 2>&1
}
rscs() { tr -d '\r' <"$dir/psk.out" | sed -n 's/^X-M2M-RSC: //p' | tr '\n' ' '; }

acreg='{"mafFQDN":"maf.example.test","expirationTime":"20991231T000000","adminFQDN":"sp.example.test"}'
kreg='{"mafFQDN":"maf.example.test","expirationTime":"20991231T000000","adminFQDN":"sp.example.test","suid":32,"targetIDs":["//sp.example.test/in-cse"]}'
rq POST /maf/keyRegistrations "$kreg" last | psk tls1_3
check "PSK: key registration without client registration" [ "$(rscs)" = "4103 " ]
for v in tls1_2 tls1_3; do
    { rq POST /maf/clientRegistrations "$acreg"; rq POST /maf/keyRegistrations "$kreg";
      rq POST /maf/keyRegistrations "$kreg" last; } | psk $v
    check "PSK $v: client registration 2001, exporter key 2001, second one 4105" \
        [ "$(rscs)" = "2001 2001 4105 " ]
    ekm=$(sed -n 's/^ *Keying material: //p' "$dir/psk.out")
    rel=$(sed -n 's/.*"relativeKeyID": "\([^"]*\)".*/\1/p' "$dir/psk.out")
    check "PSK $v: relativeKeyID is the exporter's KcID" same "$rel" "$(echo "$ekm" | cut -c1-32)"
    mb POST /keyRetrieval -d "{\"relativeKeyID\":\"$rel\"}"
    expect "PSK $v: Entity B retrieves the exporter key" 200 2000
    kv=$(member keyValue | openssl base64 -d -A | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
    check "PSK $v: keyValue is exporter bytes 16..47" same "$kv" "$(echo "$ekm" | cut -c33-96)"
    check "PSK $v: sourceMAFClientID on record" [ "$(member sourceMAFClientID)" = "$IDA" ]
done

openssl rand -out "$dir/key.bin" 32 || exit 99
key_b64=$(openssl base64 -A -in "$dir/key.bin")
vreg=$(printf '{"mafFQDN":"maf.example.test","expirationTime":"20991231T000000","labels":["saef"],"adminFQDN":"sp.example.test","suid":32,"targetIDs":["%s"],"keyValue":"%s"}' "$IDB" "$key_b64")
rq POST /maf/keyRegistrations "$vreg" last | psk tls1_3
check "PSK: key registration with keyValue" [ "$(rscs)" = "2001 " ]
vrel=$(sed -n 's/.*"relativeKeyID": "\([^"]*\)".*/\1/p' "$dir/psk.out")
check "PSK: keyValue never returned by key registration" absent keyValue "$dir/psk.out"
mb POST /keyRetrieval -d "{\"relativeKeyID\":\"$vrel\"}"
expect "retrieval as the target" 200 2000
check "retrieved keyValue is the registered one" same "$(member keyValue)" "$key_b64"
mc entity-a POST /keyRetrieval -H "X-M2M-Origin: $IDA" -H 'Content-Type: application/json' \
    -d "{\"relativeKeyID\":\"$vrel\"}"
expect "retrieval as a non-target" 403 4103
mc entity-a PUT "/keyRegistrations/$vrel" -H "X-M2M-Origin: $IDA" \
    -H 'Content-Type: application/json' -d '{"mafFQDN":"maf.example.test","labels":["x"]}'
expect "key update by the source in certificate mode (same MAF Client ID)" 200 2004
{ rq PUT "/maf/keyRegistrations/$vrel" '{"mafFQDN":"maf.example.test","targetIDs":["//sp.example.test/in-cse/Cdevice01"]}';
  rq DELETE "/maf/keyRegistrations/$vrel" '' last; } | psk tls1_2
check "PSK: key registration update 2004, de-registration 2002" [ "$(rscs)" = "2004 2002 " ]
mb POST /keyRetrieval -d "{\"relativeKeyID\":\"$vrel\"}"
expect "retrieval after de-registration" 404 4004

# Expiry: a key registration granted for 2 seconds is gone after 3.
soon=$(date -u -d '+2 seconds' +%Y%m%dT%H%M%S)
sreg=$(printf '{"mafFQDN":"maf.example.test","expirationTime":"%s","adminFQDN":"sp.example.test","suid":32,"targetIDs":["%s"],"keyValue":"%s"}' "$soon" "$IDB" "$key_b64")
rq POST /maf/keyRegistrations "$sreg" last | psk tls1_3
srel=$(sed -n 's/.*"relativeKeyID": "\([^"]*\)".*/\1/p' "$dir/psk.out")
sleep 3
mb POST /keyRetrieval -d "{\"relativeKeyID\":\"$srel\"}"
expect "retrieval of an expired key" 404 4004
check "expired registration purged" grep -q 'purged 1 expired registration' "$dir/log"

# --- authentication failures and the unmappable certificate ---
mc unmapped GET /health
expect "unmappable certificate: health without Origin" 200 2000
check "unmappable certificate: no mafClientID" absent mafClientID "$dir/body"
mc unmapped GET /health -H 'X-M2M-Origin: Cdevice01'
expect "unmappable certificate with Origin" 403 4106
mc foreign-client GET /health -H "X-M2M-Origin: $IDB"
check "certificate of a foreign CA: no HTTP answer" [ ! -s "$dir/hdr" ]
printf '' | timeout 10 openssl s_client -tls1_2 -connect "127.0.0.1:$port" \
    -psk_identity "$KMID_A" -psk 00112233445566778899aabbccddeeff >"$dir/psk.out" 2>&1
check "wrong Km: TLS alert" grep -q 'alert' "$dir/psk.out"

mb GET /stats
expect "stats" 200 2000
got_kr=$(tr -d ' \n' <"$dir/body" | sed -n 's/.*"keyRetrieval":{"requests":\([0-9]*\).*/\1/p')
check "stats count the $kr key retrievals" same "$got_kr" "$kr"

stop
check "SIGTERM: exit status 0" [ $? -eq 0 ]
check "SIGTERM: pidfile removed" [ ! -e "$dir/pid" ]

# --- test-only fault modes: a retrieval as Entity B, no registration needed ---
kq='{"relativeKeyID":"0123456789ABCDEF0123456789ABCDEF"}'
start --pidfile "$dir/pid" --fault=wrong-suid
mb POST /keyRetrieval -d "$kq"
expect "fault wrong-suid" 200 2000
check "fault wrong-suid: suid 12" grep -q '"suid":12' "$dir/body"
stop
start --pidfile "$dir/pid" --fault=duplicate-keys
mb POST /keyRetrieval -d "$kq"
check "fault duplicate-keys: two keyValue members" [ "$(grep -o '"keyValue"' "$dir/body" | wc -l)" -eq 2 ]
stop
start --pidfile "$dir/pid" --fault=garbage
mb POST /keyRetrieval -d "$kq"
expect "fault garbage" 200 2000
check "fault garbage: not JSON" absent '^{' "$dir/body"
mb GET /health
expect "fault garbage: health unaffected" 200 2000
stop
start --pidfile "$dir/pid" --fault=stall
mb POST /keyRetrieval -d "$kq" --max-time 3
check "fault stall: no answer within 3 s" [ ! -s "$dir/hdr" ]
mb GET /stats
check "fault stall: the retrieval was counted" grep -q '"requests": 1' "$dir/body"
stop
check "fault stall: clean exit with a stalled request" [ $? -eq 0 ]

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
