#!/bin/sh
# Shaped models (format 1.1): the golden conv models read, dump as their
# .json and rewrite byte for byte; the programs that compute only dense
# chains so far refuse them (hgq-sim and hgq-ebops compute them: t560, t320) with exit 1 and one line "prog: layer N
# (KIND): not supported by prog yet", leaving no output file.  (To be
# replaced by real tests as each program learns the new layers.)
. "$TESTS_DIR/lib.sh"

EX=$ROOT/formats/examples
mkdata --seed 1 4 16 x16.npy
mkdata --seed 1 4 12 x12.npy

for f in conv2d conv1d; do
	ok "$f: --dump" sh -c "hgq-ebops --dump '$EX/$f.hgqm' > $f.json"
	same "$f: the dump is $f.json" "$f.json" "$EX/$f.json"
	ok "$f: the dump on a pipe" sh -c "hgq-ebops --dump - < '$EX/$f.hgqm' > p.json"
	same "$f: the same from stdin" p.json "$EX/$f.json"
	check "$f: format 1.1" grep -q '"format_version": \[1, 1\]' "$f.json"
done
# a 1.0 model still dumps as 1.0
mkfixture --seed 3 --shape 3,2 -o flat.hgqm
ok "a dense chain dumps" sh -c "hgq-ebops --dump flat.hgqm > flat.json"
check "as format 1.0" grep -q '"format_version": \[1, 0\]' flat.json
check "with flat shapes" grep -q '"shape": \[3\]' flat.json

# refuse: exit 1, exactly one line, naming the layer, no output file
refusal() {	# refusal PROG WANT-LINE CMD...
	prog=$1 line=$2
	shift 2
	rm -f out.*
	must_fail 1 "$prog refuses $m" "$@"
	check "$prog: one line: $line" sh -c \
	    "[ \"\$(cat .err)\" = '$line' ]"
	check "$prog: no output file" sh -c '! ls out.* 2>/dev/null | grep -q .'
}
for m in conv2d conv1d; do
	kind=$m
	x=x16.npy
	[ $m = conv1d ] && x=x12.npy
	for p in hgq-prune hgq-emit-verilog; do
		line="$p: layer 1 ($kind): not supported by $p yet"
		case $p in
		hgq-prune) refusal $p "$line" hgq-prune -o out.hgqm "$EX/$m.hgqm" ;;
		hgq-emit-verilog) refusal $p "$line" \
		    hgq-emit-verilog -o out.v --testbench out.tb.v \
		    --vectors $x "$EX/$m.hgqm" ;;
		esac
	done
done
# hgq-train resumes only a run of the same config (it trains conv
# models: t110)
awk 'BEGIN { for (r = 0; r < 40; r++) print (r % 5) / 4 "," (r % 3) / 2 "," r % 2 }' > d.csv
cat > cfg.yaml <<EOF2
seed: 1
data: { train_x: d.csv, label_col: 2, val_split: 0.25 }
model: { layers: [ { type: dense, units: 2 } ] }
train: { epochs: 1, batch_size: 10, threads: 1 }
EOF2
m=conv2d
rm -f out.*
must_fail 1 "hgq-train refuses to resume $m" \
    hgq-train -q -c cfg.yaml --resume "$EX/conv2d.hgqm" -o out.hgqm
check "hgq-train: one line, why" sh -c \
    '[ "$(wc -l < .err)" -eq 1 ] && grep -q "the model has no training state$" .err'
check "hgq-train: no output file" sh -c '! ls out.* 2>/dev/null | grep -q .'
done_testing
