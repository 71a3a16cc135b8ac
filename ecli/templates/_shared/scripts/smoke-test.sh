#!/bin/sh
# Smoke test (as root): start the tool, open a file no one else opens, expect to see it.
set -eu
out=$(mktemp) err=$(mktemp) probe="/tmp/{{name}}-smoke-$$"
{{run}} >"$out" 2>"$err" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$out" "$err" "$probe"' EXIT
i=0
until grep -q attached "$err" "$out"; do
  i=$((i + 1)); [ $i -lt 300 ] || { cat "$err"; echo "smoke test: never attached"; exit 1; }
  sleep 0.1
done
: >"$probe"
i=0
until grep -q "$probe" "$out"; do
  i=$((i + 1)); [ $i -lt 50 ] || { cat "$out" "$err"; echo "smoke test: no event"; exit 1; }
  sleep 0.1
done
echo "smoke test: saw the open of $probe"
