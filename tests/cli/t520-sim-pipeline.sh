#!/bin/sh
# hgq-sim overlaps reading, the engine and writing over chunks of rows:
# on an input of many chunks (HGQ_SIM_CHUNK_ROWS sets their size) every
# output, report and message is byte for byte that of a single-chunk run,
# on one engine thread and on two; a failure in a late chunk leaves no
# output file.
. "$TESTS_DIR/lib.sh"

mkfixture --seed 11 --shape 6,9,4 -o m.hgqm
mkdata --seed 12 --lo -3 --hi 3 40000 6 x.npy
mkdata --seed 13 --int --lo 0 --hi 4 40000 0 y.npy

# run NAME CHUNK_ROWS hgq-sim-args...: outputs under NAME.*
run() {
	name=$1; rows=$2; shift 2
	ok "$name" env HGQ_SIM_CHUNK_ROWS="$rows" hgq-sim "$@" \
	    -i x.npy -o "$name.npy" --vectors "$name.vec" m.hgqm
	ok "$name: raw" env HGQ_SIM_CHUNK_ROWS="$rows" hgq-sim --raw "$@" \
	    -i x.npy -o "$name.raw.npy" m.hgqm
	ok "$name: TSV" sh -c "HGQ_SIM_CHUNK_ROWS=$rows hgq-sim $* -i x.npy \
	    m.hgqm > $name.tsv"
	ok "$name: report" env HGQ_SIM_CHUNK_ROWS="$rows" hgq-sim "$@" \
	    -i x.npy -l y.npy --report json m.hgqm
	# the speed is the one figure that may differ
	sed 's/"samples_per_s": [0-9]*/"samples_per_s": S/' .out > \
	    "$name.json"
}

run one 40000 -t 1
check "one chunk: 40000 rows out" grep -q '^{"n": 40000, "accuracy": ' \
    one.json
check "one chunk: 40000 vectors" test "$(wc -l < one.vec)" -eq 40000
for t in 1 2; do
	for rows in 8192 700; do
		run "c$rows-t$t" "$rows" -t "$t"
		for f in npy raw.npy tsv json vec; do
			same "$rows-row chunks, -t $t: the same $f" \
			    one.$f "c$rows-t$t.$f"
		done
	done
done

# --compare over chunks: a row changed in the 5th chunk of 8192 is found
ok "compare: equal" hgq-sim -t 2 -i x.npy --compare one.tsv m.hgqm
awk 'NR == 33335 { $2 = $2 + 1 } { print }' OFS='\t' one.tsv > bad.tsv
HGQ_SIM_CHUNK_ROWS=40000
export HGQ_SIM_CHUNK_ROWS
must_fail 1 "compare: one changed row" hgq-sim -t 1 -i x.npy \
    --compare bad.tsv m.hgqm
cp .err bad-one.err
unset HGQ_SIM_CHUNK_ROWS
must_fail 1 "compare over chunks: one changed row" hgq-sim -t 2 -i x.npy \
    --compare bad.tsv m.hgqm
same "the same message" bad-one.err .err
check "it names row 33333" grep -q "row 33333 differs" .err

# failures late in the input: the same message, no output file
awk 'BEGIN { for (r = 0; r < 30000; r++) {
	for (c = 0; c < 6; c++)
		printf "%s%s", c ? "," : "", r == 27000 && c == 4 ? "nan" : \
		    (r * 7 + c * 3) % 11 - 5
	printf "\n" } }' > nan.csv
awk 'BEGIN { for (r = 0; r < 40000; r++) print r == 25000 ? 7 : r % 4 }' \
    > ybad.csv
head -c 1000000 x.npy > cut.npy
for t in 1 2; do
	must_fail 1 "NaN in line 27001, -t $t" hgq-sim -t "$t" -i nan.csv \
	    -o nan.npy m.hgqm
	check "names line 27001" grep -q \
	    "^hgq-sim: nan.csv:27001: field 5: NaN/Inf not allowed$" .err
	check "no output file" test ! -e nan.npy
	must_fail 1 "label 7 in row 25000, -t $t" hgq-sim -t "$t" -i x.npy \
	    -l ybad.csv --report text -o lab.npy m.hgqm
	check "names row 25000" grep -q "ybad.csv: row 25000: label 7" .err
	check "no output file" test ! -e lab.npy
	must_fail 1 "an input cut in row 20830, -t $t" hgq-sim -t "$t" \
	    -i cut.npy -o cut-out.npy --vectors cut.vec m.hgqm
	check "names the row" grep -q "cut.npy: truncated in row 20830" .err
	check "no output files" test ! -e cut-out.npy -a ! -e cut.vec
	check "no temporary files" sh -c '! ls *.tmp.* 2>/dev/null'
done
HGQ_SIM_CHUNK_ROWS=0
export HGQ_SIM_CHUNK_ROWS
must_fail 2 "a bad HGQ_SIM_CHUNK_ROWS" hgq-sim -i x.npy m.hgqm
unset HGQ_SIM_CHUNK_ROWS
done_testing
