#!/bin/sh
# adapter_smoke.sh ADAPTER DATADIR
# Runs the conformance adapter on every DATADIR/NAME.phq with the probes of NAME.keys and
# checks its found/absent lines against the Python reader's answers in NAME.keys; when the
# Python reference adapter (python -m phq.conformance.adapter) exists, also compares the
# whole answer with it byte for byte. Prints "N passed, N failed".
set -u
adapter=$1
dir=$2
here=$(cd "$(dirname "$0")" && pwd)
py=${PY:-$here/../../.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ref=0
if "$py" -c "import phq.conformance.adapter" >/dev/null 2>&1; then ref=1; fi
pass=0
fail=0
for f in "$dir"/*.phq; do
  name=${f%.phq}
  cut -d' ' -f1,2 "$name.keys" > "$tmp/probes"
  awk 'NF == 0 { next } { if ($3 == "absent") print "absent"; else print "found " $3 " " $4 " " $5 }' "$name.keys" > "$tmp/want"
  $adapter "$f" < "$tmp/probes" > "$tmp/got" 2>"$tmp/err"
  sed -n '/^\(found\|absent\)/p' "$tmp/got" > "$tmp/gotp"
  if [ "$(head -n1 "$tmp/got")" = ok ] && [ "$(tail -n1 "$tmp/got")" = end ] && cmp -s "$tmp/want" "$tmp/gotp"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); echo "FAIL $f"; diff "$tmp/want" "$tmp/gotp" | head -5; head -c 300 "$tmp/err"
  fi
  if [ $ref = 1 ]; then
    "$py" -m phq.conformance.adapter "$f" < "$tmp/probes" > "$tmp/ref" 2>/dev/null
    if cmp -s "$tmp/ref" "$tmp/got"; then pass=$((pass + 1)); else
      fail=$((fail + 1)); echo "FAIL $f differs from the Python reference adapter"; diff "$tmp/ref" "$tmp/got" | head -5
    fi
  fi
done
echo "adapter: $pass passed, $fail failed"
[ $fail = 0 ]
