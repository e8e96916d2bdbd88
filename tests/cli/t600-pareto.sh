#!/bin/sh
# hgq-pareto: fronts merged on hand-made cases (ties, equal EBOPs, equal
# accuracy, empty fronts, order and repeats), the pick under a budget,
# models measured bit-exactly or from metadata, and a table of bad input.
. "$TESTS_DIR/lib.sh"

H='#model	ebops	accuracy	correct	n	lut_estimate	source	front'
# row NAME EBOPS CORRECT (of 200): a front row as hgq-pareto writes it
row() {
	awk -v m="$1" -v e="$2" -v c="$3" 'BEGIN { printf "%s\t%d\t%.6f\t%d\t200\t%d\texact\t1\n",
	    m, e, c / 200, c, int(0.667 * e ^ 1.09 + 0.5) }'
}
{ echo "$H"; row a 100 120; row b 200 150; row c 300 150; row d 300 160; } > A.tsv
{ echo "$H"; row e 200 150; row f 150 110; row g 200 140; row h 400 170; } > B.tsv
echo "$H" > empty.tsv

ok "merge two fronts" hgq-pareto A.tsv B.tsv
cp .out AB.tsv
check "the front, by EBOPs" test "$(cut -f 1 AB.tsv | tr '\n' ' ')" = \
    "#model a b e d h "
check "ties (b, e: same EBOPs and accuracy) both stay" \
    grep -q "^e	200	0.750000	150	200	215	exact	1$" AB.tsv
check "equal accuracy, more EBOPs: c goes" sh -c "! grep -q '^c	' AB.tsv"
check "equal EBOPs, less accurate: g goes" sh -c "! grep -q '^g	' AB.tsv"
check "cheaper but less accurate than a: f goes" sh -c "! grep -q '^f	' AB.tsv"
ok "the other order" hgq-pareto B.tsv A.tsv
same "... gives the same bytes" AB.tsv .out
ok "a front merged with itself" hgq-pareto AB.tsv AB.tsv
same "... is itself" AB.tsv .out
ok "with -a every model" hgq-pareto -a A.tsv B.tsv
check "... 8 rows, 3 off the front" test "$(grep -c '	0$' .out)" -eq 3
cp .out all.tsv
ok "the front of -a output" hgq-pareto all.tsv
same "... is the front" AB.tsv .out
ok "an empty front" hgq-pareto empty.tsv
check "... writes the header alone" test "$(cat .out)" = "$H"
ok "empty merged with A" hgq-pareto empty.tsv A.tsv
ok "... equals A alone" hgq-pareto A.tsv
hgq-pareto A.tsv > A1 && hgq-pareto empty.tsv A.tsv > A2
same "... byte for byte" A1 A2
ok "JSON" hgq-pareto --json A.tsv
check "... source and count" grep -q '^{"source": "exact", "n_models": 4, "points": \[$' .out
check "... a point" grep -q '{"model": "a", "ebops": 100, "accuracy": 0.600000, "correct": 120, "n": 200, "lut_estimate": 101, "front": true}' .out
ok "JSON of an empty front" hgq-pareto --json empty.tsv
check "... empty points" test "$(cat .out)" = '{"source": "", "n_models": 0, "points": []}'

ok "--best" hgq-pareto --best A.tsv B.tsv
check "... the most accurate" test "$(cut -f 1 .out | tail -n 1)" = h
ok "--max-ebops 299" hgq-pareto --max-ebops 299 A.tsv B.tsv
check "... b (tied with e, first by name)" test "$(tail -n 1 .out | cut -f 1)" = b
ok "--max-luts 334 (d's estimate)" hgq-pareto --max-luts 334 A.tsv B.tsv
check "... d" test "$(tail -n 1 .out | cut -f 1)" = d
must_fail 1 "no model within the budget" hgq-pareto --max-ebops 99 A.tsv
check "... says so" grep -q 'no model within the budget' .err
must_fail 1 "no model at all" hgq-pareto --best empty.tsv

# models: a tiny training, measured exactly and from metadata
awk 'BEGIN { srand(3); for (r = 0; r < 600; r++) {
	a = int(rand() * 64) / 32 - 1; b = int(rand() * 64) / 32 - 1
	print a "," b > (r < 400 ? "x.csv" : "tx.csv")
	print (a > b ? 1 : 0) > (r < 400 ? "y.csv" : "ty.csv") } }'
cat > cfg.yaml <<YAML
seed: 3
data: { train_x: x.csv, train_y: y.csv, val_split: 0.25 }
model:
  layers:
    - { type: dense, units: 4, activation: relu }
    - { type: dense, units: 2 }
train: { epochs: 6, batch_size: 50, threads: 1 }
YAML
ok "a model" hgq-train -q -c cfg.yaml --pareto-dir pd -o m.hgqm
ok "exact accuracy of models" hgq-pareto -a -t 1 -i tx.csv -l ty.csv m.hgqm pd/*.hgqm
cp .out exact.tsv
check "... agrees with hgq-sim" sh -c "hgq-sim -i tx.csv -l ty.csv \
    --report json m.hgqm | grep -q \"\\\"accuracy\\\": $(awk -F '\t' \
    '$1 == "m.hgqm" { print $4 / $5 }' exact.tsv)\""
check "... and with hgq-ebops" test "$(hgq-ebops --json m.hgqm |
    sed -n 's/.*"total_ebops": *\([0-9]*\).*/\1/p' | head -n 1)" = \
    "$(awk -F '\t' '$1 == "m.hgqm" { print $2 }' exact.tsv)"
ok "threads do not change it" hgq-pareto -a -t 2 -i tx.csv -l ty.csv pd/*.hgqm m.hgqm
same "... nor the order" exact.tsv .out
ok "a list from stdin" sh -c 'ls pd/*.hgqm | hgq-pareto -a -i tx.csv -l ty.csv -T - m.hgqm'
same "... the same" exact.tsv .out
ok "a model from stdin" sh -c 'hgq-pareto -m val_accuracy < m.hgqm'
check "... from metadata" grep -q "^-	.*	meta:val_accuracy	1$" .out
ok "-o writes the file" hgq-pareto -o out.tsv exact.tsv
check "... the front" test -s out.tsv

# bad input: exit status, and the message names the problem
bad() {
	printf '%b' "$2" > bad.tsv
	must_fail 1 "bad front: $1" hgq-pareto bad.tsv
	check "... says '$3'" grep -q -- "$3" .err
}
bad "empty file" "" "empty: neither a model nor a front"
bad "not ours" "#x\ty\n" "not a front of hgq-pareto"
bad "not a model or front" "hello\n" "neither a model nor a front"
bad "few fields" "$H\na\t1\t0.5\n" "bad.tsv:2: 3 fields, want 8"
bad "many fields" "$H\na\t1\t0.500000\t1\t2\t1\texact\t1\tx\n" "more than 8 fields"
bad "EBOPs not a number" "$H\na\t1x\t0.500000\t1\t2\t1\texact\t1\n" "ebops: not a count"
bad "EBOPs overflow" "$H\na\t18446744073709551616\t0.500000\t1\t2\t1\texact\t1\n" "ebops: not a count"
bad "negative count" "$H\na\t1\t0.500000\t-1\t2\t1\texact\t1\n" "not counts"
bad "correct > n" "$H\na\t1\t1.500000\t3\t2\t1\texact\t1\n" "3 right of 2 rows"
bad "n = 0" "$H\na\t1\t0.000000\t0\t0\t1\texact\t1\n" "0 right of 0 rows"
bad "accuracy not correct/n" "$H\na\t1\t0.600000\t1\t2\t1\texact\t1\n" "is not 1/2"
bad "unknown source" "$H\na\t1\t0.500000\t1\t2\t1\tguess\t1\n" "unknown accuracy source"
bad "front not 0/1" "$H\na\t1\t0.500000\t1\t2\t1\texact\t2\n" "want 0 or 1"
bad "metadata accuracy > 1" "$H\na\t1\t1.5\t0\t0\t1\tmeta:k\t1\n" "not a number in \[0, 1\]"
bad "metadata accuracy NaN" "$H\na\t1\tnan\t0\t0\t1\tmeta:k\t1\n" "not a number in \[0, 1\]"
bad "metadata with counts" "$H\na\t1\t0.5\t1\t2\t1\tmeta:k\t1\n" "correct and n are 0"
bad "empty name" "$H\n\t1\t0.500000\t1\t2\t1\texact\t1\n" "must not be empty"
bad "same name, other figures" "$H\na\t1\t0.500000\t1\t2\t1\texact\t1\na\t2\t0.500000\t1\t2\t1\texact\t1\n" "two different measurements"
bad "two data sets" "$H\na\t1\t0.500000\t1\t2\t1\texact\t1\nb\t2\t0.500000\t2\t4\t1\texact\t1\n" "measured on 4 rows"
bad "two sources" "$H\na\t1\t0.500000\t1\t2\t1\texact\t1\nb\t2\t0.5\t0\t0\t1\tmeta:k\t1\n" "accuracy from meta:k, the others from exact"
awk -v h="$H" 'BEGIN { print h; s = "a"; while (length(s) < 9000) s = s s; print s "\t1" }' > bad.tsv
must_fail 1 "bad front: a line of 9 KiB" hgq-pareto bad.tsv
check "... line too long" grep -q 'bad.tsv:2: line longer than 8192 bytes' .err

must_fail 1 "a missing file" hgq-pareto nothere.tsv
check "... names it" grep -q "nothere.tsv" .err
head -c 100 m.hgqm > cut.hgqm
sed "s/^1$/7/" ty.csv > ty7.csv
head -n 10 ty.csv > ty10.csv
must_fail 1 "a truncated model" hgq-pareto -m val_accuracy cut.hgqm
must_fail 1 "no such metadata entry" hgq-pareto -m nothere m.hgqm
check "... says which" grep -q "no metadata entry 'nothere'" .err
must_fail 1 "data of the wrong width" hgq-pareto -i ty.csv -l ty.csv m.hgqm
check "... says so" grep -q "reads 2 input columns, the data has 1" .err
must_fail 1 "labels out of range" hgq-pareto -i tx.csv -l ty7.csv m.hgqm
must_fail 1 "fewer labels than rows" hgq-pareto -i tx.csv -l ty10.csv m.hgqm
must_fail 1 "exact and metadata fronts" sh -c 'hgq-pareto -m val_accuracy m.hgqm > meta.tsv; hgq-pareto meta.tsv exact.tsv'
must_fail 2 "a model without a way to measure it" hgq-pareto m.hgqm
must_fail 2 "-i without -l" hgq-pareto -i tx.csv m.hgqm
must_fail 2 "-i and -m" hgq-pareto -i tx.csv -l ty.csv -m k m.hgqm
must_fail 2 "-a and a budget" hgq-pareto -a --max-ebops 5 A.tsv
must_fail 2 "a bad budget" hgq-pareto --max-ebops -1 A.tsv
must_fail 2 "a bad option" hgq-pareto --frobnicate A.tsv
ok "--help" hgq-pareto --help
check "... usage on stdout" grep -q '^usage: hgq-pareto' .out
ok "--version" hgq-pareto --version
must_fail 1 "stdout full" sh -c 'hgq-pareto A.tsv > /dev/full'
must_fail 1 "a failed run leaves no output file" hgq-pareto -o never.tsv bad.tsv
check "... none" sh -c '! ls never.tsv* 2>/dev/null'
done_testing
