#!/bin/sh
# Shaped models (format 1.1): the golden conv models read, dump as their
# .json and rewrite byte for byte; hgq-prune and hgq-emit-verilog read
# them (the programs' own tests: t230, t450; hgq-sim and hgq-ebops: t560,
# t320); hgq-train resumes only a run of the same config.
. "$TESTS_DIR/lib.sh"

EX=$ROOT/formats/examples

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

for m in conv2d conv1d; do
	# hgq-prune reads them (t230 prunes conv models); the golden ones
	# compute constants (t560), so there is nothing to keep
	rm -f out.*
	must_fail 1 "hgq-prune: $m prunes to nothing" \
	    hgq-prune -o out.hgqm "$EX/$m.hgqm"
	echo "hgq-prune: cannot prune model '$EX/$m.hgqm': model prunes" \
	    "to nothing: every input is unused" > want.err
	same "hgq-prune: one line, why" .err want.err
	check "hgq-prune: no output file" sh -c \
	    '! ls out.* 2>/dev/null | grep -q .'
done
# hgq-emit-verilog emits them (t450 checks the designs under Icarus)
for m in conv2d conv1d; do
	ok "hgq-emit-verilog: $m" hgq-emit-verilog -o $m.v --report-file $m.r.json \
	    "$EX/$m.hgqm"
	check "$m: a report per layer with its kind" \
	    grep -q '"layer": 3, .*"kind": "[a-z]*pool"' $m.r.json
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
