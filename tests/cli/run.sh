#!/bin/sh
# run.sh - run every tests/cli/t*.sh with the programs first on PATH and
# print one closing line "N passed, N failed".  A test that skips a part
# or all of itself (a tool is missing: the tests install nothing) gets
# a line "skip: tNNN-name.sh: why".
#
# HGQ_BIN is the folder of the built programs (set by make).
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${HGQ_BIN:?HGQ_BIN must name the folder of the built programs}"
PATH="$HGQ_BIN:$PATH"
export PATH HGQ_BIN
TESTS_DIR=$here
ROOT=$(cd "$here/../.." && pwd)
export TESTS_DIR ROOT

passed=0
failed=0
for t in "$here"/t[0-9]*.sh; do
	[ -f "$t" ] || continue
	out=$(mktemp)
	if sh "$t" >"$out" 2>&1; then
		p=$(grep -c '^ok ' "$out")
		passed=$((passed + p))
		sed -n "s/^ok [0-9]* - # skip:* */skip: $(basename "$t"): /p" \
		    "$out"
	else
		p=$(grep -c '^ok ' "$out")
		f=$(grep -c '^not ok ' "$out")
		[ "$f" -eq 0 ] && f=1
		passed=$((passed + p))
		failed=$((failed + f))
		echo "FAIL: $(basename "$t")"
		sed 's/^/    /' "$out" | tail -n 40
	fi
	rm -f "$out"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
