#!/bin/sh
# Smoke test of build/phq-nlu (make -C creader test): output shape, --top/--proba, --terms, an
# input error line, CRLF and a line without its newline, exit codes 0 / 1 / 2.
# usage: nlu_cli_smoke.sh PHQ_NLU TESTDATA_DIR
set -u
B=$1
D=$2
fail=0
check() { # name expected actual
    if [ "$2" != "$3" ]; then echo "FAIL $1"; echo "  want: $2"; echo "  got:  $3"; fail=1; fi
}
out=$(printf 'good\r\nbad' | "$B" "$D/binary.phq" --top 1 --proba)
check "binary --top 1 --proba" '{"label": 7, "decision": [2.25], "top": [{"label": 7, "probability": 0.90465053510089055}], "proba": [0.095349464899109448, 0.90465053510089055]}
{"label": -3, "decision": [-2.75], "top": [{"label": -3, "probability": 0.93991334982599239}], "proba": [0.93991334982599239, 0.060086650174007626]}' "$out"
out=$(printf 'Play\n\377\nplay\n' | "$B" "$D/v1.phq" --top 2)
check "input error line" '{"label": "a", "decision": [1, 0.5, -1], "top": [{"label": "a", "score": 1}, {"label": "b", "score": 0.5}]}
{"error": "E_INPUT", "message": "the text is not well-formed UTF-8 (decode_error \"strict\")"}
{"label": "a", "decision": [1, 0.5, -1], "top": [{"label": "a", "score": 1}, {"label": "b", "score": 0.5}]}' "$out"
out=$(printf 'ab  c\n\n' | "$B" --terms 9 "$D/vectors.phq")
check "--terms" '[["ab", 1], ["b ", 1], [" c", 1], ["ab ", 1], ["b c", 1]]
[]' "$out"
out=$(printf 'x\n' | "$B" "$D/labels.phq")
check "labels" '{"label": "a\"b", "decision": [0, 0, 0, 0]}' "$out"
"$B" "$D/err_E_NLU_SCHEMA_dup_labels.phq" </dev/null 2>/tmp/phq-nlu-smoke.$$; rc=$?
check "profile error exit" 1 "$rc"
grep -q "E_NLU_SCHEMA" /tmp/phq-nlu-smoke.$$ || { echo "FAIL profile error message"; fail=1; }
rm -f /tmp/phq-nlu-smoke.$$
"$B" "$D/multi.phq" --proba </dev/null 2>/dev/null; check "--proba without a rule" 2 "$?"
"$B" 2>/dev/null; check "no model" 2 "$?"
"$B" "$D/nope.phq" </dev/null 2>/dev/null; check "missing file" 2 "$?"
"$B" "$D/binary.phq" --top x </dev/null 2>/dev/null; check "bad --top" 2 "$?"
head -c 2000000 /dev/zero | tr '\0' 'a' | "$B" "$D/big.phq" >/dev/null; check "2 MB line" 0 "$?"
[ $fail = 0 ] && echo "nlu_cli_smoke: ok ($B)"
exit $fail
