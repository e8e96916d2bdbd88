#!/bin/sh
# Hostile data and configs: inputs of the wrong shape, NaN and Inf,
# labels out of range, cut and lying npy files, ragged and broken CSV, a
# directory, an empty file; YAML syntax errors, unknown keys, wrong types,
# hostile nesting.  Each is exit 1 (2 for --compare trouble) with one line
# "prog: ..." naming the file and the problem, and no output file left.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/lib-hostile.sh"

D=$ROOT/tests/data

mkfixture --seed 5 --shape 6,9,4 -o m.hgqm	# 6 raw inputs, 4 classes
mkdir adir
: > empty.csv

# hgq-sim -i FILE -o out.npy
sim_in() {
	want_name=$2 want_msg=$3
	refuses hgq-sim "$1" hgq-sim -t 1 -i "$2" -o out.npy m.hgqm
}
ok "the good data" hgq-sim -t 1 -i "$D/data-good.npy" -o good.npy m.hgqm
sim_in "a missing file" nothere.npy '*nothere.npy*'
sim_in "a directory" adir '*adir*'
sim_in "an empty file" empty.csv '*empty.csv: no data*'
ok "a 3-D array: rows of shape [3, 2]" hgq-sim -t 1 -i "$D/data-3d.npy" \
    -o 3d.npy m.hgqm
mkdata --seed 2 10 5 x5.npy
sim_in "wrong number of columns" x5.npy '*x5.npy: 5 columns, the model takes 6'
sim_in "2^20 columns in the header" "$D/data-huge.npy" '*1048576 columns*'
sim_in "2^62 x 2^62 in the header" "$D/data-overflow.npy" '*too many columns*'
sim_in "2^40 rows in the header, one present" "$D/data-huge-rows.npy" \
    '*truncated in row 1 (header says 1099511627776 rows)*'
sim_in "cut after 3 of 100 rows" "$D/data-cut.npy" '*truncated in row 3*'
sim_in "NaN" "$D/data-nan.npy" '*data-nan.npy: row 1: NaN*'
sim_in "Inf" "$D/data-inf.npy" '*data-inf.npy: row 1: Inf*'
sim_in "-Inf in float32" "$D/data-ninf.npy" '*data-ninf.npy: row 0: Inf*'
sim_in "Fortran order" "$D/data-fortran.npy" '*Fortran order*'
sim_in "object dtype" "$D/data-object.npy" "*unsupported dtype '|O'*"
sim_in "a broken npy header" "$D/data-bad-header.npy" '*npy header*'

# CSV
csv() {
	printf "$2" > in.csv
	sim_in "CSV: $1" in.csv "*in.csv:$3*"
}
csv "ragged, short row" '1,2,3,4,5,6\n1,2,3,4,5\n' '2: ragged row (5 fields, expected 6)'
csv "ragged, long row" '1,2,3,4,5,6\n1,2,3,4,5,6,7\n' '2: ragged row (7 fields, expected 6)'
csv "a word" '1,2,3,4,5,6\n1,2,x,4,5,6\n' "2: field 3: not a number 'x'"
csv "an empty field" '1,2,3,4,5,6\n1,2,,4,5,6\n' '2: field 3: empty field'
csv "a blank line" '1,2,3,4,5,6\n\n1,2,3,4,5,6\n' '2: blank line*'
csv "nan" '1,2,3,4,5,6\n1,2,3,4,5,nan\n' '2: field 6: NaN/Inf*'
csv "-Infinity" '1,2,3,4,5,-Infinity\n' '1: field 6: NaN/Inf*'
csv "1e999" '1,2,3,4,5,1e999\n' "1: field 6: number out of range '1e999'"
printf '1,2,3,4,5,6\n1,2,3\0004,5,6\n' > in.csv
sim_in "CSV: a NUL byte" in.csv '*in.csv:2: NUL byte*'
printf '1,2,3,4,5,6x\n1,2,3,4,5,6\n' > in.csv
# data.c takes a first row with any text field for a header and drops it
# silently: a typo in the first data row loses that row (reported)
sim_in "CSV: a typo in the first row is not a header" in.csv "*in.csv:1: field 6: *'6x'*"
ok "CSV: a subnormal number is a number" sh -c 'printf "1,2,3,4,5,5e-324\n" > sub.csv &&
    hgq-sim -t 1 -i sub.csv m.hgqm'

# labels
mkdata --seed 3 2 6 x2.npy
sim_lab() {
	want_name=$2 want_msg=$3
	refuses hgq-sim "$1" hgq-sim -t 1 -i x2.npy -l "$2" --report text -o out.npy m.hgqm
}
# the message of hgq_labels_check, as hgq-train gives it (below)
sim_lab "a negative label" "$D/labels-neg.npy" '*labels-neg.npy: row 1: label -1 out of range \[0, 4)'
sim_lab "label 4 of 4 classes" "$D/labels-big.npy" '*labels-big.npy: row 1: label 4 out of range \[0, 4)'
sim_lab "label 2.5" "$D/labels-frac.npy" '*labels-frac.npy: row 1: label 2.5 not an integer'
sim_lab "label NaN" "$D/labels-nan.npy" '*labels-nan.npy: row 1: NaN*'
sim_lab "two label columns" "$D/labels-2col.npy" '*2 columns, expected 1*'
sim_lab "2^40 labels in the header" "$D/labels-huge.npy" '*truncated*'
mkdata --seed 3 --int --lo 0 --hi 4 1 0 y1.npy
mkdata --seed 3 --int --lo 0 --hi 4 3 0 y3.npy
sim_lab "fewer labels than rows" y1.npy '*y1.npy*labels*'
sim_lab "more labels than rows" y3.npy '*y3.npy: more labels than input rows*'

# --compare: trouble is exit 2 (cmp(1)), still one clear line
printf '0,0,0,0\n0,0,nan,0\n' > ref.csv
want_name=ref.csv want_msg='*ref.csv:2: field 3: NaN/Inf*'
exits 2 hgq-sim "--compare with NaN in the reference" \
    hgq-sim -t 1 -i x2.npy --compare ref.csv m.hgqm

# the Verilog testbench's vectors
if have hgq-emit-verilog; then
	want_name=data-nan.npy want_msg='*row 1: NaN*'
	refuses hgq-emit-verilog "NaN in the vectors" hgq-emit-verilog \
	    -o out.v --testbench out.tb.v --vectors "$D/data-nan.npy" m.hgqm
	want_name=data-huge-rows.npy want_msg='*truncated*'
	refuses hgq-emit-verilog "2^40 rows of vectors in the header" \
	    hgq-emit-verilog -o out.v --testbench out.tb.v \
	    --vectors "$D/data-huge-rows.npy" m.hgqm
fi

# hgq-train: configs and training data
if have hgq-train; then
	resume_config
	mv cfg.yaml base.yaml
	ok "hgq-train: the base config trains" hgq-train -q -c base.yaml -o good.hgqm
	cfg() {
		what=$1 want_msg=$3
		printf "$2" > c.yaml
		want_name=c.yaml
		refuses hgq-train "$what" hgq-train -q -c c.yaml -o out.hgqm
	}
	cfg "a YAML syntax error" 'seed: [1\n' '*c.yaml:2:1: *'
	cfg "an unknown key" 'seed: 1\ndata: { train_x: d.csv, bogus: 1 }\n' \
	    "*c.yaml:2:25: unknown key 'bogus'*"
	cfg "a wrong type" 'seed: one\n' "*c.yaml:1:7: *'seed'*"
	cfg "a value out of range" 'data: { train_x: d.csv }\ntrain: { epochs: 0 }\n' \
	    '*c.yaml:2:18: epochs: 0 out of range*'
	cfg "a duplicate key" 'seed: 1\nseed: 2\n' "*c.yaml:2:1: duplicate key 'seed'*"
	cfg "a NaN learning rate" 'train: { optimizer: { lr: .nan } }\n' "*c.yaml:1:27: *'lr'*"
	cfg "an empty config" '' '*c.yaml:1:1: *empty document*'
	cfg "binary garbage" '\001\002\003' '*c.yaml:1:1: *'
	cfg "two documents" "$(cat base.yaml)\n---\nseed: 2\n" '*c.yaml:6:1: more than one YAML document*'
	# libyaml alone needs time quadratic in the nesting depth
	awk 'BEGIN { printf "seed: "; for (k = 0; k < 100000; k++) printf "["; print "" }' > deep.yaml
	want_name=deep.yaml want_msg='*deep.yaml:1:38: nested deeper than 32 levels*'
	refuses hgq-train "100000 nested flow sequences" hgq-train -q -c deep.yaml -o out.hgqm
	want_name=adir want_msg='*adir*'
	refuses hgq-train "a directory as the config" hgq-train -q -c adir -o out.hgqm
	want_name=nothere.yaml want_msg='*nothere.yaml*'
	refuses hgq-train "a missing config" hgq-train -q -c nothere.yaml -o out.hgqm

	trn() {
		what=$1 want_msg=$3
		sed "s|train_x: d.csv|train_x: $2|" base.yaml > cfg.yaml
		want_name=$2
		refuses hgq-train "$what" hgq-train -q -c cfg.yaml -o out.hgqm
	}
	sed '7s/.*/0.5,nan,1/' d.csv > nan.csv
	trn "NaN in the training data" nan.csv '*nan.csv:7: field 2: NaN/Inf*'
	sed '9s/.*/0.5,1/' d.csv > ragged.csv
	trn "a ragged row" ragged.csv '*ragged.csv:9: ragged row*'
	sed '3s/.*/0.5,1,9/' d.csv > lab.csv
	# the message of hgq_labels_check, as hgq-sim gives it (above)
	trn "a label out of range" lab.csv '*: lab.csv: row 2: label 9 out of range \[0, 2) (the model has 2 classes)'
	trn "a missing data file" nothere.csv '*nothere.csv*'
	trn "a directory as data" adir '*adir*'
	: > empty2.csv
	trn "an empty data file" empty2.csv '*empty2.csv*'
	trn "2^40 rows in an npy header" "$D/data-huge-rows.npy" '*truncated*'
fi
done_testing
