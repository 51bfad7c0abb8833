#!/bin/sh
# Integration test of the MAF client (Entity B's side of MAF Key Retrieval, security/maf_*.c,
# docs/maf-binding.md sections 3, 6.8 and 8) against the reference MAF saef-mafd on loopback.
#
# saef-keyreg plays Entity A and registers keys; saef-mafget retrieves them through the client
# library, in certificate mode and in PSK mode.  Every case asserts the result code saef-mafget
# prints (rc=N result=NAME, checked against the SAEF_E_* code it stands for), not only the exit
# status.  Covered: a retrieved key and its metadata, refusals (4103, 4004, expiry),
# authentication failures (foreign CA, no client certificate, wrong X-M2M-Origin, wrong or
# unknown Km, MAF certificate for another name), a MAF that is down and the circuit breaker, a
# MAF that stalls, each broken answer of the fault modes, and concurrent retrievals over one
# connection with single flight (checked against the MAF's GET {B}/stats).
set -u

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-.}
mafd=$builddir/contrib/maf/saef-mafd
keyreg=$builddir/contrib/maf/saef-keyreg
mafget=$builddir/contrib/maf/saef-mafget

. "$srcdir/tests/integration/mafd_lib.sh"
mafd_require curl openssl od sed timeout -- "$mafd" "$keyreg" "$mafget"

dir=$(mktemp -d "${TMPDIR:-/tmp}/maf_client.XXXXXX") || exit 99
pid=  # the main saef-mafd
apid= # an auxiliary saef-mafd (fault modes, wrong certificate, MAF down)
cleanup() {
    for p in $pid $apid; do
        if kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null
            wait "$p" 2>/dev/null
        fi
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 99' INT TERM HUP

passes=0
fails=0
pass() { passes=$((passes + 1)); echo "ok   - $1"; }
fail() {
    fails=$((fails + 1))
    echo "FAIL - $1"
    [ -z "${2:-}" ] || sed 's/^/#   /' "$2"
}
check() { # LABEL CONDITION...
    label=$1
    shift
    if "$@"; then pass "$label"; else fail "$label"; fi
}
# same LABEL EXPECTED ACTUAL
same() {
    if [ -n "$2" ] && [ "$2" = "$3" ]; then pass "$1"; else
        fail "$1"
        echo "#   expected: $2"
        echo "#   actual:   $3"
    fi
}

FQDN=maf.example.test
IDB=//sp.example.test/in-cse
IDA=//sp.example.test/in-cse/Cdevice01
OTHER=//sp.example.test/other-cse
ADMIN=sp.example.test
KMID_A=cdevice01@$FQDN
KMID_B=entityb@$FQDN
KMID_C=cdevice02@$FQDN # an Entity A the MAF has no CSE-ID/AE-ID for: its source ID is the KmID
pki=$dir/pki
sh "$srcdir/tests/fixtures/mkpki.sh" "$pki" "$FQDN" "$IDB" "$IDA" >/dev/null || exit 99

# A client "without a certificate": OpenSSL sends an empty Certificate message in TLS 1.3 when
# its certificate fits none of the TLS 1.3 signature algorithms, and DSA has none.  The library
# insists on a certificate and key, so this is how it meets a MAF that sees no client
# certificate (alert certificate_required on the first read, binding 3.4).
(
    cd "$pki" && umask 077 &&
        openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out dsa.param &&
        openssl genpkey -paramfile dsa.param -out nocert.key &&
        openssl req -new -key nocert.key -subj "/CN=entity-b-dsa" -out nocert.csr &&
        printf 'subjectAltName=URI:%s\nextendedKeyUsage=clientAuth\n' "$IDB" >nocert.ext &&
        openssl x509 -req -in nocert.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 \
            -extfile nocert.ext -out nocert.crt
) >/dev/null 2>&1 || { echo "maf_client: cannot make the DSA certificate"; exit 99; }
# Km files: Entity C's, and a wrong one for Entity B.
(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$pki/entity-c.km" &&
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$pki/wrong.km") || exit 99

# mkini FILE CERT-NAME: the MAF configuration, serving the certificate pki/CERT-NAME.crt.
mkini() {
    cat >"$1" <<EOF
[maf]
fqdn = $FQDN
listen = 127.0.0.1:0
base_path = /maf
cert = $pki/$2.crt
key = $pki/$2.key
ca = $pki/ca.crt
max_key_lifetime = 1h
purge_interval = 1s

[client.entity-a]
kmid = $KMID_A
km_file = $pki/entity-a.km
id = $IDA

[client.entity-b]
kmid = $KMID_B
km_file = $pki/entity-b.km
id = $IDB

[client.entity-c]
kmid = $KMID_C
km_file = $pki/entity-c.km
EOF
}
mkini "$dir/mafd.ini" maf
mkini "$dir/wrong-name.ini" maf-wrong-name

# aux_start INI [ARGS...] / aux_stop: the auxiliary daemon, on $aport.
aux_start() {
    mafd_launch "$dir/aux.log" "$@"
    apid=$mafd_pid aport=$mafd_port
}
aux_stop() {
    kill -TERM "$apid"
    wait "$apid"
    arc=$?
    apid=
    return $arc
}

mafd_launch "$dir/mafd.log" "$dir/mafd.ini"
pid=$mafd_pid port=$mafd_port
echo "# saef-mafd listening on 127.0.0.1:$port"

cert_b="--ca $pki/ca.crt --cert $pki/entity-b.crt --key $pki/entity-b.key --cse-id $IDB"
psk_b="--kmid $KMID_B --km-file $pki/entity-b.km"

# get NAME PORT ARGS...: saef-mafget against 127.0.0.1:PORT; stdout in $dir/NAME.out, stderr in
# $dir/NAME.err, exit status in $get_rc.
get() {
    name=$1 p=$2
    shift 2
    get_rc=0
    timeout 60 "$mafget" --fqdn "$FQDN" --uri "https://$FQDN:$p/maf/keyRetrieval" \
        --connect-to "127.0.0.1:$p" "$@" >"$dir/$name.out" 2>"$dir/$name.err" || get_rc=$?
}

# reg NAME ARGS...: saef-keyreg key (Entity A) on the main MAF, --format=env in $dir/NAME.env;
# the variables are loaded.  Exits 99 when the registration fails: nothing to test then.
reg() {
    name=$1
    shift
    KEY_ID='' REL_KEY_ID='' KC_HEX='' EXPIRES='' SOURCE_ID=''
    if ! "$keyreg" key --maf "https://$FQDN:$port/maf" --connect-to "127.0.0.1:$port" \
        --admin-fqdn "$ADMIN" --format=env "$@" >"$dir/$name.env" 2>"$dir/$name.kerr"; then
        echo "maf_client: saef-keyreg key $* failed:"
        cat "$dir/$name.kerr"
        exit 99
    fi
    # shellcheck disable=SC1090
    . "$dir/$name.env"
}
cert_a="--ca $pki/ca.crt --cert $pki/entity-a.crt --key $pki/entity-a.key --origin $IDA"

# The SAEF_E_* code a result line stands for: "rc result" as saef-mafget prints them.
code() {
    case $1 in
    SAEF_OK) echo "0 ok" ;;
    SAEF_E_MAF_UNREACHABLE) echo "-401 unreachable" ;;
    SAEF_E_MAF_TIMEOUT) echo "-402 timeout" ;;
    SAEF_E_MAF_CIRCUIT_OPEN) echo "-403 circuit-open" ;;
    SAEF_E_MAF_HTTP_STATUS) echo "-404 http-status" ;;
    SAEF_E_MAF_RSC) echo "-405 rsc" ;;
    SAEF_E_MAF_JSON) echo "-406 json" ;;
    SAEF_E_MAF_SUID) echo "-407 suid" ;;
    SAEF_E_MAF_EXPIRED) echo "-408 expired" ;;
    SAEF_E_MAF_KEY_LENGTH) echo "-409 key-length" ;;
    SAEF_E_MAF_SOURCE_ID) echo "-410 source-id" ;;
    SAEF_E_MAF_ADMIN_FQDN) echo "-411 admin-fqdn" ;;
    SAEF_E_MAF_REFUSED) echo "-412 refused" ;;
    SAEF_E_MAF_AUTH) echo "-413 auth" ;;
    *) echo "? ?" ;;
    esac
}
# line NAME N: the Nth result line of $dir/NAME.out.
line() { grep '^key_id=' "$dir/$1.out" | sed -n "${2}p"; }
# field LINE NAME: the value of NAME=... in a result or summary line.
field() { printf ' %s\n' "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
# result LABEL NAME N CODE [DETAIL-PATTERN]: result line N of NAME has the code CODE (and a
# detail matching DETAIL-PATTERN).
result() {
    l=$(line "$2" "$3")
    # shellcheck disable=SC2046 # code prints two words: rc and result
    set -- "$1" "$2" "$3" "$4" "${5:-}" $(code "$4")
    if [ "$(field "$l" rc)" = "$6" ] && [ "$(field "$l" result)" = "$7" ] &&
        { [ -z "$5" ] || printf '%s\n' "$l" | grep -q -- "$5"; }; then
        pass "$1: $4"
    else
        fail "$1: expected $4 (rc=$6 result=$7${5:+, detail ~ $5}), got:" "$dir/$2.out"
        [ -s "$dir/$2.err" ] && sed 's/^/#   stderr: /' "$dir/$2.err"
    fi
}
# exits LABEL EXPECTED: the last saef-mafget exited with EXPECTED.
exits() { same "$1: exit status" "$2" "$get_rc"; }
# summary NAME FIELD: a field of NAME's summary line.
summary() { field "$(grep '^summary ' "$dir/$1.out")" "$2"; }
# stats PORT [NAME]: keyRetrieval requests the MAF on PORT counted (GET {B}/stats, loopback
# only); NAME is the name of its certificate (default the MAF-FQDN).
stats() {
    h=${2:-$FQDN}
    curl -sS --max-time 10 --cacert "$pki/ca.crt" --cert "$pki/entity-b.crt" \
        --key "$pki/entity-b.key" --resolve "$h:$1:127.0.0.1" "https://$h:$1/maf/stats" |
        tr -d ' \n' | sed -n 's/.*"keyRetrieval":{"requests":\([0-9]*\).*/\1/p'
}

# ---------------------------------------------------------------------------------------------
# Key registered by Entity A (saef-keyreg, certificate mode), retrieved by Entity B.

# Entity A's client registration (a key registration needs one for its adminFQDN).
# shellcheck disable=SC2086
if ! "$keyreg" register --maf "https://$FQDN:$port/maf" --connect-to "127.0.0.1:$port" $cert_a \
    --admin-fqdn "$ADMIN" --lifetime 3600 >"$dir/register.out" 2>&1; then
    echo "maf_client: saef-keyreg register failed:"
    cat "$dir/register.out"
    exit 99
fi

# Registered first and checked last: expires in 2 s.
# shellcheck disable=SC2086
reg short $cert_a --target "$IDB" --generate --lifetime 2
short_rel=$REL_KEY_ID
short_reg_at=$(date +%s)
# shellcheck disable=SC2086
get short-before "$port" $cert_b "$short_rel"
result "short-lived key before its expiry" short-before 1 SAEF_OK

# shellcheck disable=SC2086
reg k1 $cert_a --target "$IDB" --generate --lifetime 600 --label saef-test
k1_rel=$REL_KEY_ID k1_id=$KEY_ID k1_kc=$KC_HEX k1_exp=$EXPIRES
# shellcheck disable=SC2086
get cert-ok "$port" $cert_b --show-key "$k1_id"
l=$(line cert-ok 1)
result "cert: retrieval of a registered key" cert-ok 1 SAEF_OK
exits "cert: retrieval of a registered key" 0
same "cert: key equals saef-keyreg's KC_HEX" "$k1_kc" "$(field "$l" key)"
same "cert: key_len 32" 32 "$(field "$l" key_len)"
same "cert: expires is the granted expirationTime" "$k1_exp" "$(field "$l" expires)"
same "cert: source_id is Entity A" "$IDA" "$(field "$l" source_id)"
same "cert: source_id is saef-keyreg's SOURCE_ID" "$SOURCE_ID" "$(field "$l" source_id)"
same "cert: source_kind ae-id" ae-id "$(field "$l" source_kind)"
same "cert: admin_fqdn" "$ADMIN" "$(field "$l" admin_fqdn)"
same "cert: suid 32" 32 "$(field "$l" suid)"
same "cert: labels" '"saef-test"' "$(field "$l" labels)"
same "cert: key_id printed as the Key Identifier" "$k1_id" "$(field "$l" key_id)"
same "cert: summary retrievals=1 ok=1" "1 1" "$(summary cert-ok retrievals) $(summary cert-ok ok)"
# Without --show-key the key is not printed.
# shellcheck disable=SC2086
get cert-nokey "$port" $cert_b "$k1_rel"
no_key_printed() { ! grep -q ' key=' "$1" && grep -q 'result=ok' "$1"; }
check "cert: no key printed without --show-key" no_key_printed "$dir/cert-nokey.out"

# PSK mode: Entity B's KmID with its CSE-ID on record at the MAF.
# shellcheck disable=SC2086
get psk-ok "$port" $psk_b --show-key "$k1_rel"
l=$(line psk-ok 1)
result "PSK: retrieval of a registered key" psk-ok 1 SAEF_OK
exits "PSK: retrieval of a registered key" 0
same "PSK: key equals KC_HEX" "$k1_kc" "$(field "$l" key)"
same "PSK: source_id is Entity A" "$IDA" "$(field "$l" source_id)"

# A key of a source the MAF knows only by its KmID (Entity A in PSK mode, no id on record).
given=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
reg kc --kmid "$KMID_C" --km-file "$pki/entity-c.km" --target "$IDB" --key-hex "$given" \
    --lifetime 600 --register
# shellcheck disable=SC2086
get kmid-src "$port" $cert_b --show-key "$KEY_ID"
l=$(line kmid-src 1)
result "source known by its KmID" kmid-src 1 SAEF_OK
same "source known by its KmID: source_kind kmid" kmid "$(field "$l" source_kind)"
same "source known by its KmID: source_id is the KmID" "$KMID_C" "$(field "$l" source_id)"
same "source known by its KmID: key is the given one" "$given" "$(field "$l" key)"

# ---------------------------------------------------------------------------------------------
# Refusals: 4103 and 4004 -> SAEF_E_MAF_REFUSED.

# shellcheck disable=SC2086
reg other $cert_a --target "$OTHER" --generate --lifetime 600
other_rel=$REL_KEY_ID
unknown=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n' | tr a-f A-F)
for mode in cert psk; do
    if [ $mode = cert ]; then creds=$cert_b; else creds=$psk_b; fi
    # shellcheck disable=SC2086
    get $mode-refused "$port" $creds "$other_rel" "$unknown@$FQDN" "$k1_rel"
    result "$mode: key registered for another CSE-ID (4103)" $mode-refused 1 \
        SAEF_E_MAF_REFUSED 'X-M2M-RSC 4103'
    result "$mode: unknown RelativeKeyID (4004)" $mode-refused 2 SAEF_E_MAF_REFUSED \
        'X-M2M-RSC 4004'
    result "$mode: a registered key after two refusals" $mode-refused 3 SAEF_OK
    exits "$mode: some retrievals refused" 1
    same "$mode: summary ok=1 failed=2 connects=1" "1 2 1" \
        "$(summary $mode-refused ok) $(summary $mode-refused failed) $(summary $mode-refused connects)"
done
# Entity A asking for a key whose target is Entity B.
get nontarget "$port" --ca "$pki/ca.crt" --cert "$pki/entity-a.crt" --key "$pki/entity-a.key" \
    --cse-id "$IDA" "$k1_rel"
result "cert: requester that is not the target (4103)" nontarget 1 SAEF_E_MAF_REFUSED \
    'X-M2M-RSC 4103'

# ---------------------------------------------------------------------------------------------
# Authentication failures -> SAEF_E_MAF_AUTH.  With TLS 1.3 a rejected client certificate only
# shows as an alert on the first read (binding 3.4); each case is run 5 times because the way
# the rejection reaches the client depends on timing.

# auth_repeat LABEL ARGS...: 5 retrievals of k1, each must be SAEF_E_MAF_AUTH.
auth_repeat() {
    label=$1
    shift
    good=0 seen=
    for i in 1 2 3 4 5; do
        get auth-rep "$port" "$@" "$k1_rel"
        l=$(line auth-rep 1)
        if [ "$(field "$l" rc) $(field "$l" result)" = "$(code SAEF_E_MAF_AUTH)" ] &&
            [ $get_rc -eq 1 ]; then
            good=$((good + 1))
        else
            seen="$seen
$l"
        fi
    done
    if [ $good -eq 5 ]; then
        pass "$label: SAEF_E_MAF_AUTH (5 of 5)"
    else
        fail "$label: expected SAEF_E_MAF_AUTH 5 of 5 times, got it $good times; others:"
        printf '%s\n' "$seen" | sed '/^$/d; s/^/#   /'
    fi
}
auth_repeat "cert: client certificate of a foreign CA" --ca "$pki/ca.crt" \
    --cert "$pki/foreign-client.crt" --key "$pki/foreign-client.key" --cse-id "$IDB"
auth_repeat "cert: client without a certificate" --ca "$pki/ca.crt" --cert "$pki/nocert.crt" \
    --key "$pki/nocert.key" --cse-id "$IDB"
auth_repeat "PSK: wrong Km" --kmid "$KMID_B" --km-file "$pki/wrong.km"

get wrong-origin "$port" --ca "$pki/ca.crt" --cert "$pki/entity-b.crt" \
    --key "$pki/entity-b.key" --cse-id "$OTHER" "$k1_rel"
result "cert: X-M2M-Origin that is not our certificate's ID (4106)" wrong-origin 1 \
    SAEF_E_MAF_AUTH 'X-M2M-RSC 4106'
get unknown-kmid "$port" --kmid "nobody@$FQDN" --km-file "$pki/entity-b.km" "$k1_rel"
result "PSK: KmID the MAF does not know (it answers with its certificate)" unknown-kmid 1 \
    SAEF_E_MAF_AUTH
exits "PSK: unknown KmID" 1

# The MAF presents a certificate for another name than the MAF-FQDN.
aux_start "$dir/wrong-name.ini"
# shellcheck disable=SC2086
get wrong-name "$aport" $cert_b "$k1_rel"
result "cert: MAF certificate for another name" wrong-name 1 SAEF_E_MAF_AUTH
same "cert: MAF certificate for another name: no request reached the MAF" 0 \
    "$(stats "$aport" other.example.test)"
aux_stop

# ---------------------------------------------------------------------------------------------
# The short-lived key, now expired: 4004.
now=$(date +%s)
[ $((now - short_reg_at)) -ge 4 ] || sleep $((4 - (now - short_reg_at)))
# shellcheck disable=SC2086
get short-after "$port" $cert_b "$short_rel"
result "expired key registration (4004)" short-after 1 SAEF_E_MAF_REFUSED 'X-M2M-RSC 4004'
# shellcheck disable=SC2086
get short-after-psk "$port" $psk_b "$short_rel"
result "PSK: expired key registration (4004)" short-after-psk 1 SAEF_E_MAF_REFUSED

# ---------------------------------------------------------------------------------------------
# Concurrent retrievals: one connection, single flight.

ids='' kcs=''
for i in 1 2 3 4 5; do
    # shellcheck disable=SC2086
    reg conc$i $cert_a --target "$IDB" --generate --lifetime 600
    ids="$ids $KEY_ID"
    kcs="$kcs $REL_KEY_ID=$KC_HEX"
done
for mode in cert psk; do
    if [ $mode = cert ]; then creds=$cert_b; else creds=$psk_b; fi
    before=$(stats "$port")
    # shellcheck disable=SC2086
    get $mode-conc "$port" $creds --concurrency 20 --show-key $ids
    after=$(stats "$port")
    exits "$mode: 20 concurrent retrievals over 5 keys" 0
    same "$mode: 20 result lines, all SAEF_OK" 20 \
        "$(grep -c "^key_id=.* rc=0 result=ok " "$dir/$mode-conc.out")"
    wrong=0
    for kv in $kcs; do
        n=$(grep -c "^key_id=${kv%%=*}@$FQDN rc=0 result=ok .* key=${kv#*=}\$" "$dir/$mode-conc.out")
        [ "$n" -eq 4 ] || wrong=$((wrong + 1))
    done
    same "$mode: every key retrieved 4 times with its own KC_HEX" 0 "$wrong"
    same "$mode: summary retrievals=20 ok=20" "20 20" \
        "$(summary $mode-conc retrievals) $(summary $mode-conc ok)"
    same "$mode: summary connects=1 (one shared connection)" 1 "$(summary $mode-conc connects)"
    same "$mode: summary requests=5 coalesced=15 (single flight)" "5 15" \
        "$(summary $mode-conc requests) $(summary $mode-conc coalesced)"
    same "$mode: the MAF counted 5 key retrievals (one per distinct key)" 5 \
        "$((${after:-0} - ${before:-0}))"
done

# ---------------------------------------------------------------------------------------------
# Usage errors: exit 2, no retrieval.
# shellcheck disable=SC2086
get usage-both "$port" $cert_b $psk_b "$k1_rel"
exits "usage: certificate and PSK options together" 2
get usage-none "$port" "$k1_rel"
exits "usage: no credentials" 2
# shellcheck disable=SC2086
get other-fqdn "$port" $cert_b "$k1_rel@other.example.test"
exits "a Key Identifier of another MAF is a failed retrieval" 1
check "a Key Identifier of another MAF: no request" [ "$(summary other-fqdn requests)" = 0 ]

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
same "main MAF: clean exit on SIGTERM" 0 "$rc"

# ---------------------------------------------------------------------------------------------
# MAF down: nothing listens on the port (a port saef-mafd held and released).  Then the breaker:
# with --breaker-threshold 2 the third retrieval fails fast without a connection.
aux_start "$dir/mafd.ini"
down=$aport
aux_stop
# shellcheck disable=SC2086
get down "$down" $cert_b --breaker-threshold 2 "$k1_rel" "$short_rel" "$other_rel"
result "MAF down: first retrieval" down 1 SAEF_E_MAF_UNREACHABLE
result "MAF down: second retrieval" down 2 SAEF_E_MAF_UNREACHABLE
result "MAF down: third retrieval, breaker open" down 3 SAEF_E_MAF_CIRCUIT_OPEN
exits "MAF down" 1
same "MAF down: summary requests=2 connects=0 breaker=open" "2 0 open" \
    "$(summary down requests) $(summary down connects) $(summary down breaker)"
# shellcheck disable=SC2086
get down-psk "$down" $psk_b --breaker-threshold 2 "$k1_rel" "$short_rel" "$other_rel"
result "PSK: MAF down" down-psk 1 SAEF_E_MAF_UNREACHABLE
result "PSK: MAF down, breaker open on the third" down-psk 3 SAEF_E_MAF_CIRCUIT_OPEN

# A MAF that accepts the request and never answers: timeouts, then the breaker; the MAF saw
# exactly the two requests that were sent.
aux_start "$dir/mafd.ini" --fault=stall
# shellcheck disable=SC2086
get stall "$aport" $cert_b --connect-timeout 1000 --timeout 1500 --breaker-threshold 2 \
    "$k1_rel" "$short_rel" "$other_rel"
result "stalling MAF: first retrieval" stall 1 SAEF_E_MAF_TIMEOUT
result "stalling MAF: second retrieval" stall 2 SAEF_E_MAF_TIMEOUT
result "stalling MAF: third retrieval, breaker open" stall 3 SAEF_E_MAF_CIRCUIT_OPEN
same "stalling MAF: summary requests=2 breaker=open" "2 open" \
    "$(summary stall requests) $(summary stall breaker)"
same "stalling MAF: the MAF received 2 key retrievals" 2 "$(stats "$aport")"
aux_stop
same "stalling MAF: clean exit with stalled requests" 0 "$arc"

# Each broken answer of binding 6.8 (the MAF's fault modes).
for fc in garbage:SAEF_E_MAF_JSON wrong-suid:SAEF_E_MAF_SUID short-key:SAEF_E_MAF_KEY_LENGTH \
    expired:SAEF_E_MAF_EXPIRED duplicate-keys:SAEF_E_MAF_JSON \
    bad-source-id:SAEF_E_MAF_SOURCE_ID no-admin-fqdn:SAEF_E_MAF_ADMIN_FQDN; do
    f=${fc%%:*} c=${fc#*:}
    aux_start "$dir/mafd.ini" --fault="$f"
    # shellcheck disable=SC2086
    get "fault-$f" "$aport" $cert_b "$k1_rel"
    result "fault $f" "fault-$f" 1 "$c"
    exits "fault $f" 1
    # shellcheck disable=SC2086
    get "fault-$f-psk" "$aport" $psk_b "$k1_rel"
    result "PSK: fault $f" "fault-$f-psk" 1 "$c"
    aux_stop
done

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
