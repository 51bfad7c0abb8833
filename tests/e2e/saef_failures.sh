#!/bin/sh
# Entity B end to end, failing cleanly: every way a handshake with a Key Identifier can fail
# must look on the wire exactly like a wrong key (the same alert for openssl s_client, TLS 1.2
# and TLS 1.3), and the module's log line must name the real reason.  Where the failure must
# not involve the MAF, its GET {B}/stats key retrieval counter must not move.
#
#   wrong key (the reference), unknown RelativeKeyID, MAF-FQDN not configured, a corpus of
#   malformed identities, a key registered for another target CSE (MAF answers 4103), MAF down
#   and back, MAF stalling beyond request_timeout_ms, Kc expired, wrong SUID from the MAF.
#
# Three reference MAFs: m1 (maf.example.test) answers normally, stall (stall.example.test,
# --fault=stall) never answers a key retrieval, suid (suid.example.test, --fault=wrong-suid)
# answers with suid 12.
# shellcheck source=lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/e2e/lib.sh"

e2e_require openssl curl timeout od awk date
e2e_init

DOWN_N=${E2E_DOWN_N:-8}

mafd_start m1 "$MAF_FQDN"
mafd_start stall stall.example.test --fault=stall
mafd_start suid suid.example.test --fault=wrong-suid
# An expired Kc stays a cached refusal ("Kc lifetime over") for negative_ttl; after that the
# module asks the MAF again, which has purged the key.  The expired-key check runs long after
# the expiry on a loaded machine: the TTL must outlast the whole script.
csed_config "negative_ttl = 600"
csed_add_maf m1 m1 "breaker_threshold = 50" "breaker_cooldown_ms = 200"
csed_add_maf stall stall "connect_timeout_ms = 500" "request_timeout_ms = 1000"
csed_add_maf suid suid
csed_start
O=$E2E_DIR/out

# retrievals: the three MAFs' key retrieval counters, "m1 stall suid".
retrievals() { echo "$(mafd_retrievals m1) $(mafd_retrievals stall) $(mafd_retrievals suid)"; }
# epoch_of M2M-TIMESTAMP
epoch_of() {
    date -u -d "$(echo "$1" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\).*/\1-\2-\3 \4:\5:\6/')" +%s
}

# ---- set-up: a working key, and a short-lived one whose expiry is checked at the end
keyreg m1 || e2e_finish
K_ID=$KEY_ID K_HEX=$KC_HEX K_REL=$REL_KEY_ID
keyreg m1 --lifetime 3 || e2e_finish
E_ID=$KEY_ID E_HEX=$KC_HEX E_EXP=$(epoch_of "$EXPIRES")
tls "$O.exp-before" "$IDA" "$E_ID" "$E_HEX" -tls1_2
expect_cb "$O.exp-before" "Kc with a 3 s lifetime: TLS 1.2 works before the expiry"
tls "$O.ok" "$IDA" "$K_ID" "$K_HEX" -tls1_2
expect_cb "$O.ok" "the reference key works"

# ---- wrong key: the reference for what every failure must look like
bad_hex=$(echo "$K_HEX" | tr '0-9a-f' '1-9a-f0')
tls "$O.wk12" "$IDA" "$K_ID" "$bad_hex" -tls1_2
tls "$O.wk13" "$IDA" "$K_ID" "$bad_hex" -tls1_3
REF12=$(alert_of "$O.wk12")
REF13=$(alert_of "$O.wk13")
if [ -n "$REF12" ] && [ -n "$REF13" ] && ! grep -aqE 'X-M2M-RSC|m2m:cb' "$O.wk12" "$O.wk13"; then
    e2e_ok "wrong key fails: TLS 1.2 \"$REF12\", TLS 1.3 \"$REF13\""
else
    e2e_not_ok "wrong key fails with an alert (TLS 1.2 \"$REF12\", TLS 1.3 \"$REF13\")" \
        "$O.wk12" "$O.wk13"
fi
has "$CSED_LOG" "the host logs the wrong key's failures" \
    "handshake failed: decryption failed or bad record mac" "handshake failed: binder does not verify"
# docs/reference-host.md: "Every failed handshake gives one line with the peer address, the
# reason and the PSK identity".
has_re "$CSED_LOG" "... and names the identity offered (TLS 1.2)" \
    "tls 127\.0\.0\.1:[0-9]+: handshake failed: decryption failed or bad record mac \(psk_identity $(ere_quote "$K_ID")\)"

# ---- unknown RelativeKeyID
U_ID=00112233445566778899AABBCCDDEEFF@$MAF_FQDN
r0=$(mafd_retrievals m1)
tls "$O.u12" "$IDA" "$U_ID" "$K_HEX" -tls1_2
expect_refused "$O.u12" "unknown RelativeKeyID, TLS 1.2" "$REF12"
tls "$O.u13" "$IDA" "$U_ID" "$K_HEX" -tls1_3
expect_refused "$O.u13" "unknown RelativeKeyID, TLS 1.3" "$REF13"
expect_module_refusal "unknown RelativeKeyID" "$U_ID" "MAF refused: unknown RelativeKeyID"
has "$E2E_DIR/mafd-m1.log" "... the MAF answered the retrieval 4004" \
    "POST /maf/keyRetrieval origin=$IDB rsc=4004"
check_eq "... and the refusal is cached: two handshakes, one retrieval" "$((r0 + 1))" \
    "$(mafd_retrievals m1)"

# ---- MAF-FQDN not configured: nobody is contacted
before=$(retrievals)
tls "$O.f12" "$IDA" "$K_REL@other.example.test" "$K_HEX" -tls1_2
expect_refused "$O.f12" "MAF-FQDN not configured, TLS 1.2" "$REF12"
tls "$O.f13" "$IDA" "$K_REL@other.example.test" "$K_HEX" -tls1_3
expect_refused "$O.f13" "MAF-FQDN not configured, TLS 1.3" "$REF13"
check_eq "MAF-FQDN not configured: no MAF was asked (retrievals m1 stall suid)" "$before" \
    "$(retrievals)"
wait_re "$CSED_LOG" 'handshake refused: .*allow-list' 2 "$E2E_LOG_WAIT"
check_eq "MAF-FQDN not configured: the module logs the reason for both handshakes (allow-list)" \
    2 "$(count_re "$CSED_LOG" 'handshake refused: .*allow-list')" "$CSED_LOG"

# ---- malformed identities: none reaches a MAF, each fails like a wrong key, each is logged
# The corpus, one entry a line: "versions<TAB>reason ERE<TAB>identity".  s_client cannot send a
# TLS 1.2 identity above 255 bytes, so the longest entries are TLS 1.3 only.  An identity whose
# FQDN part is not one of ours may be reported by its syntax error or as not on the allow-list.
TAB=$(printf '\t')
l64=$(printf '%064d' 0 | tr 0 a)
r65=$(printf '%065d' 0 | tr 0 A)
r300=$(printf '%0300d' 0 | tr 0 B)
f254=$(printf '%049d' 0 | tr 0 b)
f254=$f254.$f254.$f254.$f254.$f254.test # 254 characters
al='|allow-list'
cat >"$E2E_DIR/corpus" <<EOF
12 13${TAB}relative part .*is empty$TAB@$MAF_FQDN
12 13${TAB}relative part longer than 64$TAB$r65@$MAF_FQDN
12 13${TAB}relative part has a character outside$TAB${K_REL}!@$MAF_FQDN
12 13${TAB}relative part has a character outside$TAB${K_REL} x@$MAF_FQDN
12 13${TAB}relative part has a character outside$TAB${K_REL}/x@$MAF_FQDN
12 13${TAB}relative part has a character outside|second '@'${TAB}a@b@$MAF_FQDN
12 13${TAB}byte >= 0x80 or a control character$TAB$(printf 'ABCD\303\211')@$MAF_FQDN
12 13${TAB}byte >= 0x80 or a control character$TAB$(printf 'AB\tCD')@$MAF_FQDN
12 13${TAB}FQDN part is empty$al$TAB$K_REL@
12 13${TAB}no '@'$al$TAB$K_REL
12 13${TAB}empty label$al$TAB$K_REL@.$MAF_FQDN
12 13${TAB}empty label$al$TAB$K_REL@maf..example.test
12 13${TAB}empty label$al$TAB$K_REL@$MAF_FQDN..
12 13${TAB}IPv4 or bracketed IPv6 literal|all-numeric top-level label$al$TAB$K_REL@127.0.0.1
12 13${TAB}IPv4 or bracketed IPv6 literal|character outside letters$al$TAB$K_REL@[::1]
12 13${TAB}label longer than 63$al$TAB$K_REL@$l64.example.test
12 13${TAB}label starts or ends with '-'$al$TAB$K_REL@-maf.example.test
12 13${TAB}label starts or ends with '-'$al$TAB$K_REL@maf-.example.test
12 13${TAB}character outside letters, digits and '-'$al$TAB$K_REL@maf_x.example.test
12 13${TAB}character outside letters, digits and '-'$al$TAB$K_REL@$MAF_FQDN:443
12 13${TAB}all-numeric top-level label$al$TAB$K_REL@maf.example.123
13${TAB}FQDN longer than 253|longer than its maximum$al${TAB}A@$f254
13${TAB}relative part longer than 64|longer than its maximum$TAB$r300@$MAF_FQDN
EOF
ncorpus=$(wc -l <"$E2E_DIR/corpus")
# One handshake after the other, so that the host's "handshake failed" lines come in corpus
# order: each gives the client's port, and the module's line for that port must name the
# entry's reason.
hsfail='saef-csed [a-z]+: tls 127\.0\.0\.1:[0-9]+: handshake failed'
nhs=0
before=$(retrievals)
refusals=$(count_re "$CSED_LOG" 'handshake refused: ')
failed0=$(count_re "$CSED_LOG" "$hsfail")
: >"$E2E_DIR/corpus.order"
i=0
while IFS=$TAB read -r vs re id; do
    i=$((i + 1))
    for v in $vs; do
        tls "$O.mal$i.$v" "$IDA" "$id" "$K_HEX" "-tls1_${v#1}"
        if [ "$v" = 12 ]; then ref=$REF12; else ref=$REF13; fi
        expect_refused "$O.mal$i.$v" "malformed #$i ($id), TLS 1.${v#1}" "$ref"
        echo "$i 1.${v#1}" >>"$E2E_DIR/corpus.order"
        nhs=$((nhs + 1))
    done
done <"$E2E_DIR/corpus"
check_eq "$ncorpus malformed identities, $nhs handshakes: no MAF was asked (retrievals m1 stall suid)" \
    "$before" "$(retrievals)"
wait_re "$CSED_LOG" "$hsfail" $((failed0 + nhs)) 50
wait_re "$CSED_LOG" 'handshake refused: ' $((refusals + nhs)) "$E2E_LOG_WAIT"
grep -aE -- "$hsfail" "$CSED_LOG" | tail -n +$((failed0 + 1)) |
    sed 's/.* tls 127\.0\.0\.1:\([0-9]*\): handshake failed.*/\1/' >"$E2E_DIR/corpus.ports"
missing=
k=0
while read -r i v; do
    k=$((k + 1))
    port=$(sed -n "${k}p" "$E2E_DIR/corpus.ports")
    re=$(sed -n "${i}p" "$E2E_DIR/corpus" | cut -f2)
    grep -aqE -- "handshake refused: .* peer=127\.0\.0\.1:$port transport=tls reason=.*($re)" \
        "$CSED_LOG" || missing="$missing #$i/$v"
done <"$E2E_DIR/corpus.order"
if [ -z "$missing" ]; then
    e2e_ok "every malformed identity: the module's log names the reason ($nhs handshakes)"
else
    e2e_not_ok "every malformed identity: the module's log names the reason (none for:$missing)"
fi

# ---- a key registered for another target CSE: the MAF refuses Entity B (4103)
keyreg m1 --target //sp.example.test/other-cse || e2e_finish
T_ID=$KEY_ID T_HEX=$KC_HEX
tls "$O.t12" "$IDA" "$T_ID" "$T_HEX" -tls1_2
expect_refused "$O.t12" "key for another target CSE, TLS 1.2" "$REF12"
tls "$O.t13" "$IDA" "$T_ID" "$T_HEX" -tls1_3
expect_refused "$O.t13" "key for another target CSE, TLS 1.3" "$REF13"
has "$E2E_DIR/mafd-m1.log" "... the MAF answered Entity B's retrieval 4103" \
    "POST /maf/keyRetrieval origin=$IDB rsc=4103"
expect_module_refusal "key for another target CSE" "$T_ID" "MAF refused"
has "$CSED_LOG" "... and its retrieval line the MAF's answer" \
    "MAF key retrieval for $T_ID: MAF refused: unknown RelativeKeyID or not authorised: MAF refused with X-M2M-RSC 4103"

# ---- the MAF stalls beyond request_timeout_ms (1000 ms)
s0=$(mafd_retrievals stall)
tls "$O.s12" "$IDA" "$K_REL@stall.example.test" "$K_HEX" -tls1_2
expect_refused "$O.s12" "MAF stalls, TLS 1.2" "$REF12"
tls "$O.s13" "$IDA" "0${K_REL#?}@stall.example.test" "$K_HEX" -tls1_3
expect_refused "$O.s13" "MAF stalls, TLS 1.3" "$REF13"
check_eq "... both retrievals reached the stalling MAF" "$((s0 + 2))" "$(mafd_retrievals stall)"
expect_module_refusal "MAF stalls (TLS 1.2)" "$K_REL@stall.example.test" "did not answer in time"
expect_module_refusal "MAF stalls (TLS 1.3)" "0${K_REL#?}@stall.example.test" \
    "did not answer in time"

# ---- wrong SUID: a real registration, so the key itself is right and only the SUID is wrong
keyreg suid || e2e_finish
W_ID=$KEY_ID W_HEX=$KC_HEX
tls "$O.w12" "$IDA" "$W_ID" "$W_HEX" -tls1_2
expect_refused "$O.w12" "wrong SUID, TLS 1.2" "$REF12"
tls "$O.w13" "$IDA" "$W_ID" "$W_HEX" -tls1_3
expect_refused "$O.w13" "wrong SUID, TLS 1.3" "$REF13"
has "$E2E_DIR/mafd-suid.log" "... the MAF did answer the retrieval (2000, suid 12)" \
    "POST /maf/keyRetrieval origin=$IDB rsc=2000"
expect_module_refusal "wrong SUID" "$W_ID" "SUID"

# ---- Kc expired (registered above with a 3 s lifetime)
i=0
while [ "$(date +%s)" -le "$E_EXP" ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
tls "$O.e12" "$IDA" "$E_ID" "$E_HEX" -tls1_2
expect_refused "$O.e12" "Kc expired, TLS 1.2" "$REF12"
tls "$O.e13" "$IDA" "$E_ID" "$E_HEX" -tls1_3
expect_refused "$O.e13" "Kc expired, TLS 1.3" "$REF13"
expect_module_refusal "Kc expired" "$E_ID" "Kc lifetime over|expir"

# ---- MAF down, then back
# Several handshakes on keys Entity B has not fetched yet, one retrieval attempt each; the
# breaker threshold of m1 is raised so that every attempt really goes to the (dead) MAF.
down=
i=0
while [ $i -lt "$DOWN_N" ]; do
    i=$((i + 1))
    keyreg m1 || e2e_finish
    down="$down $KEY_ID:$KC_HEX"
done
mafd_kill m1
i=0
down_re=
for pair in $down; do
    i=$((i + 1))
    v=$((2 + i % 2))
    tls "$O.d$i" "$IDA" "${pair%%:*}" "${pair#*:}" "-tls1_$v"
    if [ $v = 2 ]; then ref=$REF12; else ref=$REF13; fi
    expect_refused "$O.d$i" "MAF down #$i, TLS 1.$v" "$ref"
    down_re="$down_re|${pair%%:*}"
done
i=0
for pair in $down; do
    i=$((i + 1))
    expect_module_refusal "MAF down #$i" "${pair%%:*}" "MAF down|connect"
done
check_eq "MAF down: one retrieval attempt per handshake (module log)" "$DOWN_N" \
    "$(count_re "$CSED_LOG" "MAF key retrieval for (${down_re#|}): ")" "$CSED_LOG"
mafd_start m1 "$MAF_FQDN"
keyreg m1 || e2e_finish
tls "$O.back" "$IDA" "$KEY_ID" "$KC_HEX" -tls1_2
expect_cb "$O.back" "MAF back (restarted, new key): a new handshake works"

lacks "$CSED_LOG" "no Kc in the log" "$K_HEX" "$E_HEX" "$T_HEX" "$W_HEX" "${pair#*:}"
e2e_finish
