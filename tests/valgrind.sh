#!/bin/sh
# valgrind.sh - the programs under valgrind (memcheck, full leak check) on
# a small model: the usual runs and the failure paths (corrupt model, bad
# data, full standard output).  Any memcheck error or leak (definite or
# possible) fails; the programs' own exit status must be what it is
# without valgrind.
#
#   sh tests/valgrind.sh            (after make; HGQ_BIN=build/bin)
#   HGQ_BIN=/path/to/bin sh tests/valgrind.sh
#
# memcheck's own errors exit 99, so that they are told apart from the
# programs' exit 1.  Output: the CLI harness's "ok N - ..." lines; the
# status is 0 when everything is clean.
set -u
here=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$here/.." && pwd)
TESTS_DIR=$here/cli
HGQ_BIN=${HGQ_BIN:-$ROOT/build/bin}
PATH="$HGQ_BIN:$PATH"
export PATH TESTS_DIR ROOT HGQ_BIN
command -v valgrind >/dev/null 2>&1 || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }

# CLI scripts under memcheck: wrappers named like the programs first on
# PATH, one log per process; any non-empty log, or a failed test, fails
if [ $# -gt 0 ]; then
	w=$(mktemp -d)
	trap 'rm -rf "$w"' EXIT
	mkdir "$w/bin" "$w/log"
	for p in "$HGQ_BIN"/*; do
		{
			echo '#!/bin/sh'
			# found on PATH, so that argv[0] is the bare name
			echo "PATH='$HGQ_BIN':\"\$PATH\" exec valgrind -q" \
			    "--error-exitcode=99 --leak-check=full" \
			    "--errors-for-leak-kinds=definite,possible" \
			    "--show-leak-kinds=definite,possible" \
			    "--log-file='$w/log/%p.log' '${p##*/}' \"\$@\""
		} > "$w/bin/${p##*/}"
		chmod +x "$w/bin/${p##*/}"
	done
	status=0
	for t in "$@"; do
		for f in "$TESTS_DIR/$t"*.sh; do
			[ -f "$f" ] || { echo "valgrind.sh: no test $t" >&2; exit 2; }
			echo "== ${f##*/}"
			if ! HGQ_BIN=$w/bin PATH="$w/bin:$PATH" sh "$f" > "$w/out"; then
				grep -v '^ok ' "$w/out"
				status=1
			fi
		done
	done
	for l in "$w"/log/*.log; do
		[ -s "$l" ] || continue
		echo "memcheck:"
		sed 's/^/#   /' "$l"
		status=1
	done
	[ "$status" -eq 0 ] && echo "memcheck: clean"
	exit "$status"
fi
. "$TESTS_DIR/lib.sh"

D=$ROOT/tests/data
EX=$ROOT/formats/examples

# vg N "what" cmd...: cmd under memcheck must exit N and memcheck be quiet
vg() {
	want=$1 what=$2
	shift 2
	n=$((n + 1))
	valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,possible --show-leak-kinds=definite,possible \
	    --log-file="$T/vg.log" "$@" >"$T/.out" 2>"$T/.err"
	got=$?
	if [ "$got" -eq "$want" ] && [ ! -s "$T/vg.log" ]; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what (exit $got, wanted $want)"
		sed 's/^/#   /' "$T/vg.log" "$T/.err" | head -n 30
		n_fail=$((n_fail + 1))
	fi
}

mkfixture --seed 5 --shape 6,9,4 -o m.hgqm
mkfixture --seed 5 --shape 6,9,4 --train -o mt.hgqm
mkdata --seed 1 300 6 x.npy
mkdata --seed 2 --int --lo 0 --hi 4 300 0 y.npy
printf '1,2,3,4,5,6\n1,2,nan,4,5,6\n' > nan.csv

vg 0 "hgq-ebops" hgq-ebops m.hgqm
vg 0 "hgq-ebops --json" hgq-ebops --json m.hgqm
vg 0 "hgq-ebops --dump, training state" hgq-ebops --dump mt.hgqm
vg 0 "hgq-prune" hgq-prune -o p.hgqm m.hgqm
vg 0 "hgq-prune, stdin to stdout" sh -c 'exec hgq-prune -q < mt.hgqm > p2.hgqm'
vg 0 "hgq-sim, TSV" hgq-sim -t 1 -i x.npy m.hgqm
vg 0 "hgq-sim, two threads, npy, report" hgq-sim -t 2 -i x.npy -l y.npy -o o.npy --report json m.hgqm
vg 0 "hgq-sim --compare --vectors" hgq-sim -t 1 -i x.npy --vectors v.txt --compare o.npy m.hgqm
vg 1 "hgq-sim --compare, rows differ" hgq-sim -t 1 --raw -i x.npy --compare o.npy m.hgqm
vg 0 "hgq-sim at the format's edges" hgq-sim -t 1 --raw -i "$D/edge-wide-sat.npy" "$D/edge-wide-sat.hgqm"
vg 1 "hgq-sim, accumulator refused" hgq-sim -t 1 -i x.npy "$D/edge-acc62.hgqm"
vg 1 "hgq-ebops, truncated model" hgq-ebops "$D/hostile-toc-2gib.hgqm"
vg 1 "hgq-ebops, lying count" hgq-ebops "$D/hostile-trns-tensor.hgqm"
vg 1 "hgq-prune, bad deflate stream" hgq-prune -o q.hgqm "$D/hostile-deflate-garbage.hgqm"
vg 1 "hgq-sim, NaN in the data" hgq-sim -t 1 -i nan.csv -o o2.npy m.hgqm
vg 1 "hgq-sim, label out of range" hgq-sim -t 1 -i "$D/data-good.npy" -l "$D/labels-big.npy" --report text m.hgqm
if [ -w /dev/full ]; then
	vg 1 "hgq-ebops, standard output full" sh -c 'exec hgq-ebops --dump m.hgqm > /dev/full'
fi
if command -v hgq-emit-verilog >/dev/null 2>&1; then
	vg 0 "hgq-emit-verilog with a testbench" hgq-emit-verilog -o n.v --testbench tb.v --vectors x.npy --report json m.hgqm
	vg 1 "hgq-emit-verilog, corrupt model" hgq-emit-verilog "$D/hostile-width33.hgqm"
fi
if command -v hgq-train >/dev/null 2>&1; then
	# like lib-hostile.sh's resume_config, but two epochs and a hidden
	# layer of 3, so that the run resumes; this script stands alone
	awk 'BEGIN { for (r = 0; r < 60; r++) print (r % 5) / 4 "," (r % 3) / 2 "," r % 2 }' > d.csv
	cat > cfg.yaml <<EOF
seed: 1
data: { train_x: d.csv, label_col: 2, val_split: 0.25 }
model: { layers: [ { type: dense, units: 3, activation: relu }, { type: dense, units: 2 } ] }
train: { epochs: 2, batch_size: 10, threads: 1 }
EOF
	vg 0 "hgq-train" hgq-train -q -c cfg.yaml -o t.hgqm
	vg 0 "hgq-train --resume" hgq-train -q -c cfg.yaml --epochs 3 --resume t.hgqm -o t3.hgqm
	printf 'seed: 1\nbogus: 2\n' > bad.yaml
	vg 1 "hgq-train, unknown key" hgq-train -q -c bad.yaml -o t4.hgqm
fi
echo "$n checks, $n_fail failed"
done_testing
