#!/usr/bin/env bash
#
# 07-audit-report: `batonctl report` over a scenario with known timings.
# With a policy of deadlines in seconds (high 5s) and a retention of 6s,
# the real broker carries seven handovers across roles and risk levels:
#
#   provider -> cmht   high    ok       accepted at once (on time)
#   provider -> cmht   high    late     escalated at 5 s, then accepted (late)
#   provider -> cmht   high    open     delivered, never decided (escalated,
#                                       undecided and overdue now)
#   provider -> cmht   low     reject   rejected: wrong_service
#   provider -> cmht   medium  bounce   redirected cmht -> crisis -> gp,
#                                       accepted by gp
#   provider -> housing low    expire   housing never connects: expired
#   gp -> crisis       critical crit    accepted at once
#
# `report --format csv` must have exactly the expected counts, on-time
# shares, rejections by reason, redirects per handover, escalations,
# expiries and open counts, and medians/90th percentiles within the stated
# 3.2% of the times the audit records carry; the table fits 80 columns;
# the query itself is an audit_read record naming the policy's SHA-256.
# The HTML report, loaded in headless Chromium (--dump-dom), shows the same
# numbers and has its charts; without chromium that part is skipped (77)
# after everything else has passed.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

HIGH_MS=5000
BROKER_POLICY=$T/policy.conf
cat >"$BROKER_POLICY" <<'EOF'
deadline critical 20s
deadline high 5s
deadline medium 30s
deadline low 30s
escalate crisis
retention 6s
purge 30d
role provider
    receive all
    send cmht any
    send gp any
    send crisis any
    send housing any
role cmht
    receive all
    send crisis any
    send gp any
    send provider any
role gp
    receive all
    send crisis any
    send cmht any
role crisis
    receive all
    send gp any
    send cmht any
role housing
    receive all
    send cmht any
role auditor
    receive none
EOF

# handover RISK: the example handover at risk level RISK, as a file.
handover() {
  local f=$T/handover-$1.json
  jq --arg l "RISK_LEVEL_$1" '.risk_summary.level = $l' \
    "$EXAMPLE_HANDOVER" >"$f" || fail "could not write $f"
  echo "$f"
}

# send FROM TO RISK ID: FROM sends a handover of RISK to TO.
send() {
  run baton_as "$1" send --to "$2" --json "$(handover "$3")" --id "$4"
  assert_rc 0 "send $4 from $1 to $2"
}

# take NODE ID: NODE receives (and acks) until it has ID.
take() {
  recv_until "$1" ".message_id == \"$2\" and .type != \"notice\"" 15
}

# has_event SENDER ID EVENT: ID's status, as its sender sees it, has EVENT.
has_event() {
  baton_as "$1" status "$2" --json | jq -e --arg e "$3" \
    '.events | map(.event) | index($e) != null' >/dev/null
}

since=$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)
# Each node's role is its name, checked against the policy above.
make_pki provider cmht gp crisis housing
for n in provider cmht gp crisis housing; do
  ctl "node add $n" node add --data "$DATA_DIR" --node "$n" --role "$n" \
    --org "Test organisation $n" --policy "$BROKER_POLICY"
done
start_broker

# Sent first, so their clocks run while the rest happens.
send provider housing LOW rep-expire
send provider cmht HIGH rep-open
take cmht rep-open
send provider cmht HIGH rep-late
take cmht rep-late

send provider cmht HIGH rep-ok
take cmht rep-ok
run baton_as cmht accept provider/rep-ok
assert_rc 0 "accept rep-ok"

send provider cmht LOW rep-reject
take cmht rep-reject
run baton_as cmht reject provider/rep-reject --reason wrong_service
assert_rc 0 "reject rep-reject"

# Bounced twice: cmht -> crisis -> gp, who accepts.
send provider cmht MEDIUM rep-bounce
take cmht rep-bounce
run baton_as cmht redirect provider/rep-bounce --to crisis
assert_rc 0 "redirect rep-bounce to crisis"
take crisis rep-bounce
run baton_as crisis redirect provider/rep-bounce --to gp
assert_rc 0 "redirect rep-bounce to gp"
take gp rep-bounce
run baton_as gp accept provider/rep-bounce
assert_rc 0 "accept rep-bounce"

send gp crisis CRITICAL rep-crit
take crisis rep-crit
run baton_as crisis accept gp/rep-crit
assert_rc 0 "accept rep-crit"

# Deadlines and the retention pass: two escalations, one expiry.
wait_for "escalation of rep-late" 20 has_event provider rep-late escalated
wait_for "escalation of rep-open" 20 has_event provider rep-open escalated
run baton_as cmht accept provider/rep-late
assert_rc 0 "accept rep-late after its deadline"
wait_for "expiry of rep-expire" 20 has_event provider rep-expire expired
until_t=$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%SZ)

# The times the records carry, to check the percentiles against.
decision_ms() {
  audit_export "$1"
  jq -r 'select(.event == "accepted" or .event == "rejected") |
    .since_submit_ms' <<<"$AUDIT_JSONL"
}
ok_ms=$(decision_ms provider/rep-ok)
late_ms=$(decision_ms provider/rep-late)
((ok_ms < HIGH_MS)) || fail "rep-ok decided after ${ok_ms} ms: test too slow"
((late_ms >= HIGH_MS)) || fail "rep-late decided after ${late_ms} ms"

# --- CSV ------------------------------------------------------------------

run "$BATONCTL" report --data "$DATA_DIR" --since "$since" --until "$until_t" \
  --policy "$BROKER_POLICY" --format csv
assert_rc 0 "batonctl report --format csv"
REPORT_CSV=$(tr -d '\r' <<<"$RUN_OUT")

# csv_cell SENDER RECIPIENT RISK COLUMN: one value of REPORT_CSV.
csv_cell() {
  awk -F, -v s="$1" -v r="$2" -v k="$3" -v c="$4" '
    NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) col = i; next }
    $1 == s && $2 == r && $3 == k { v = $col; n++ }
    END { if (!col || n != 1) exit 1; print v }' <<<"$REPORT_CSV"
}

# expect SENDER RECIPIENT RISK COLUMN=VALUE...
expect() {
  local s=$1 r=$2 k=$3 kv got
  shift 3
  for kv in "$@"; do
    got=$(csv_cell "$s" "$r" "$k" "${kv%%=*}") ||
      fail "CSV: no single row $s,$r,$k with column ${kv%%=*}"
    assert_eq "${kv#*=}" "$got" "CSV $s -> $r $k ${kv%%=*}"
  done
}

# within EXACT GOT WHAT: GOT is within 1/32 of EXACT (the stated 3.2%).
within() {
  local d=$(($2 - $1))
  ((d < 0)) && d=$((-d))
  ((d * 32 <= $1)) || fail "$3: $2 is not within 3.2% of $1"
}

expect provider cmht high handovers=3 delivered=3 decided=2 accepted=2 \
  rejected=0 decided_on_time=1 decided_late=1 on_time_pct=50.0 \
  deadline_ms=5000 escalated=2 expired=0 redirected=0 \
  redirects_per_handover=0.00 rejected_by_reason= undecided_now=
within "$ok_ms" "$(csv_cell provider cmht high decision_p50_ms)" \
  "median time to decision, provider -> cmht high"
within "$late_ms" "$(csv_cell provider cmht high decision_p90_ms)" \
  "p90 time to decision, provider -> cmht high"
expect provider cmht low handovers=1 delivered=1 decided=1 rejected=1 \
  rejected_by_reason=wrong_service:1 decided_on_time=1 on_time_pct=100.0
expect provider cmht medium handovers=1 delivered=1 decided=0 redirected=1 \
  redirects_per_handover=1.00 on_time_pct=
expect provider crisis medium handovers=0 delivered=1 decided=0 \
  redirected=1 redirects_per_handover=
expect provider gp medium handovers=0 delivered=1 decided=1 accepted=1 \
  on_time_pct=100.0
expect provider housing low handovers=1 delivered=0 expired=1 escalated=0
expect gp crisis critical handovers=1 delivered=1 decided=1 \
  on_time_pct=100.0 deadline_ms=20000
# all senders to cmht, with what is undecided now (from the store)
expect '*' cmht high handovers=3 undecided_now=1 overdue_now=1
most=$(csv_cell '*' cmht high most_overdue_ms)
((most >= 0)) || fail "most_overdue_ms is '$most'"
expect '*' cmht low undecided_now=0
# all routes: bouncing is redirects per handover sent
expect '*' '*' medium handovers=1 redirected=2 redirects_per_handover=2.00
expect '*' '*' high handovers=3 escalated=2 decided=2 on_time_pct=50.0
expect '*' '*' low handovers=2 expired=1 rejected=1
assert_eq 7 "$(awk -F, 'NR > 1 && $1 != "*"' <<<"$REPORT_CSV" | grep -c .)" \
  "route rows in the CSV"

# The query was recorded, with the policy it used.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event audit_read
assert_rc 0 "audit export of the reads"
q=$(jq -c 'select(.reason | startswith("report csv "))' <<<"$RUN_OUT" |
  tail -n 1)
[[ -n "$q" ]] || fail "no audit_read record of the report query"
assert_json detail "policy_sha256=$(sha256sum "$BROKER_POLICY" | cut -c1-64)" "$q"
assert_contains "$(json_get reason "$q")" "since=" "report query record"
# nothing about a node or a message in the report
assert_not_contains "$REPORT_CSV" "rep-" "report CSV"
assert_not_contains "$REPORT_CSV" "provider/" "report CSV"

# --- table ----------------------------------------------------------------

run "$BATONCTL" report --data "$DATA_DIR" --since "$since" --until "$until_t" \
  --policy "$BROKER_POLICY"
assert_rc 0 "batonctl report (table)"
wide=$(awk 'length($0) > 80' <<<"$RUN_OUT")
[[ -z "$wide" ]] || fail "table lines wider than 80 columns: $wide"
assert_contains "$RUN_OUT" $'\nprovider -> cmht\n' "table route heading"
assert_contains "$RUN_OUT" "rejected: wrong_service 1" "table rejections"
assert_contains "$RUN_OUT" "3.2%" "table states the resolution"

run "$BATONCTL" report --data "$DATA_DIR" --since "$until_t" --until "$since" \
  --policy "$BROKER_POLICY"
assert_rc 2 "report with --since after --until"

# --- HTML -----------------------------------------------------------------

html=$T/report.html
run "$BATONCTL" report --data "$DATA_DIR" --since "$since" --until "$until_t" \
  --policy "$BROKER_POLICY" --format html --out "$html"
assert_rc 0 "batonctl report --format html --out"
assert_eq 600 "$(stat -c %a "$html")" "mode of the report file"
assert_not_contains "$(<"$html")" "<script" "HTML report"

chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$chromium" ]]; then
  log "SKIP: chromium is not installed (scripts/deps.sh installs it); the" \
    "CSV, table and HTML file checks passed, the browser check did not run"
  exit 77
fi
DOM=$T/report.dom
timeout 60 "$chromium" --headless --no-sandbox --disable-gpu \
  --user-data-dir="$T/chromium" --dump-dom "file://$html" >"$DOM" \
  2>"$T/chromium.log" || fail "chromium --dump-dom failed: $(tail -n 3 "$T/chromium.log")"

# html_cell SENDER RECIPIENT RISK COLUMN: a cell of the page as rendered.
html_cell() {
  local row
  row=$(grep -F "<tr data-sender=\"$1\" data-recipient=\"$2\" data-risk=\"$3\">" \
    "$DOM") || fail "HTML: no row $1 -> $2 $3"
  sed -n "s/.*<td data-col=\"$4\"[^>]*>\([^<]*\)<\/td>.*/\1/p" <<<"$row"
}

# html_expect SENDER RECIPIENT RISK COLUMN=VALUE...
html_expect() {
  local s=$1 r=$2 k=$3 kv
  shift 3
  for kv in "$@"; do
    assert_eq "${kv#*=}" "$(html_cell "$s" "$r" "$k" "${kv%%=*}")" \
      "HTML $s -> $r $k ${kv%%=*}"
  done
}

html_expect provider cmht high handovers=3 decided=2 on_time_pct=50.0% \
  escalated=2 expired=0 redirects_per_handover=0.00
html_expect provider cmht low rejected_by_reason="wrong_service 1" \
  on_time_pct=100.0%
html_expect provider cmht medium redirects_per_handover=1.00
html_expect provider housing low handovers=1 expired=1
html_expect gp crisis critical handovers=1 on_time_pct=100.0%
html_expect '*' cmht high undecided_now=1 overdue_now=1
html_expect '*' '*' medium redirects_per_handover=2.00
# the page's times are the CSV's, to the millisecond
row=$(grep -F '<tr data-sender="provider" data-recipient="cmht" data-risk="high">' "$DOM")
assert_contains "$row" "data-col=\"decision_p50_ms\" data-ms=\"$(csv_cell provider cmht high decision_p50_ms)\"" \
  "HTML median time to decision"
assert_contains "$row" "data-col=\"decision_p90_ms\" data-ms=\"$(csv_cell provider cmht high decision_p90_ms)\"" \
  "HTML p90 time to decision"
# both charts were drawn, the first with the high level's bars
dom=$(<"$DOM")
assert_contains "$dom" '<svg id="decision-times"' "decision-times chart"
assert_contains "$dom" '<svg id="on-time"' "on-time chart"
assert_contains "$dom" 'data-risk="high" data-what="p90"' "p90 bar for high"

stop_broker
