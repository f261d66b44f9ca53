#!/bin/sh
# adapter_smoke.sh ADAPTER DATADIR [MAX_VERSION]
# Runs the conformance adapter on every DATADIR/NAME.phq with the probes of NAME.keys and
# checks its found/absent lines against the Python reader's answers in NAME.keys; when the
# Python reference adapter (python -m phq.conformance.adapter) exists, also compares the
# whole answer with it byte for byte. Prints "N passed, N failed".
# With MAX_VERSION 1.0 the adapter is a reader of format 1.0 only (-DPHQ_MAX_MINOR=0): a file
# that sets a required feature bit (a 1.1 or 1.2 feature; with 1.1, -DPHQ_MAX_MINOR=1, a 1.2 feature:
# bit 2) must be refused with E_FEATURE, as the
# Python adapter with --max-version 1.0 does (error codes compared, not messages); the
# other files are checked as above.
set -u
adapter=$1
dir=$2
maxver=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
py=${PY:-$here/../../.venv/bin/python}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ref=0
if "$py" -c "import phq.conformance.adapter" >/dev/null 2>&1; then ref=1; fi
refargs=""
if [ -n "$maxver" ]; then refargs="--max-version $maxver"; fi
pass=0
fail=0
for f in "$dir"/*.phq; do
  name=${f%.phq}
  cut -d' ' -f1,2 "$name.keys" > "$tmp/probes"
  $adapter "$f" < "$tmp/probes" > "$tmp/got" 2>"$tmp/err"
  req=$(od -An -tu8 -j16 -N8 "$f" | tr -d ' ')
  known=0
  if [ "$maxver" = 1.1 ]; then known=3; fi
  if [ -n "$maxver" ] && [ $((req & ~known)) != 0 ]; then
    # a later minor's feature: refused before anything is read
    if [ "$(cut -d' ' -f1,2 "$tmp/got")" = "error E_FEATURE" ]; then pass=$((pass + 1)); else
      fail=$((fail + 1)); echo "FAIL $f: a $maxver reader should refuse it with E_FEATURE"; head -c 300 "$tmp/got"
    fi
    if [ $ref = 1 ]; then
      "$py" -m phq.conformance.adapter $refargs "$f" < "$tmp/probes" > "$tmp/ref" 2>/dev/null
      if [ "$(cut -d' ' -f1,2 "$tmp/ref")" = "$(cut -d' ' -f1,2 "$tmp/got")" ]; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL $f: error code differs from the Python reference adapter ($refargs)"
      fi
    fi
    continue
  fi
  awk 'NF == 0 { next } { if ($3 == "absent") print "absent"; else print "found " $3 " " $4 " " $5 }' "$name.keys" > "$tmp/want"
  sed -n '/^\(found\|absent\)/p' "$tmp/got" > "$tmp/gotp"
  if [ "$(head -n1 "$tmp/got")" = ok ] && [ "$(tail -n1 "$tmp/got")" = end ] && cmp -s "$tmp/want" "$tmp/gotp"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1)); echo "FAIL $f"; diff "$tmp/want" "$tmp/gotp" | head -5; head -c 300 "$tmp/err"
  fi
  if [ $ref = 1 ]; then
    "$py" -m phq.conformance.adapter $refargs "$f" < "$tmp/probes" > "$tmp/ref" 2>/dev/null
    if cmp -s "$tmp/ref" "$tmp/got"; then pass=$((pass + 1)); else
      fail=$((fail + 1)); echo "FAIL $f differs from the Python reference adapter"; diff "$tmp/ref" "$tmp/got" | head -5
    fi
  fi
done
echo "adapter: $pass passed, $fail failed"
[ $fail = 0 ]
