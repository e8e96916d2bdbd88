#!/bin/sh
# hgq-sim: outputs, formats, reports, comparison and bad input.
. "$TESTS_DIR/lib.sh"

mkfixture --seed 5 --shape 6,9,4 -o m.hgqm
mkfixture --seed 5 --shape 6,9,4 --uncalibrated -o raw.hgqm
mkdata --seed 2 --lo -3 --hi 3 3000 6 x.npy
mkdata --seed 3 --int --lo 0 --hi 4 3000 0 y.npy

usual_options hgq-sim m.hgqm
must_fail 2 "-i is required" hgq-sim m.hgqm
must_fail 2 "bad --threads" hgq-sim -t 65 -i x.npy m.hgqm
must_fail 1 "missing model" hgq-sim -i x.npy nonexistent.hgqm
check "the message names the file" grep -q "nonexistent.hgqm" .err
must_fail 1 "a directory is not a model" hgq-sim -i x.npy .
must_fail 1 "an empty model" hgq-sim -i x.npy /dev/null

ok "TSV to stdout" hgq-sim -i x.npy m.hgqm
cp .out a.tsv
check "one header line and 3000 rows" test "$(wc -l < a.tsv)" -eq 3001
ok "model from stdin" sh -c 'hgq-sim -i x.npy - < m.hgqm > b.tsv'
same "stdin and operand agree" a.tsv b.tsv
ok "model from stdin, no operand" sh -c 'hgq-sim -i x.npy < m.hgqm > c.tsv'
same "no operand reads stdin" a.tsv c.tsv
ok "one thread" sh -c 'hgq-sim -t 1 -i x.npy m.hgqm > d.tsv'
same "thread count does not change the outputs" a.tsv d.tsv
ok "-t 0: one thread per CPU" sh -c 'hgq-sim -t 0 -i x.npy m.hgqm > e.tsv'
same "-t 0 gives the same outputs" a.tsv e.tsv

ok "npy values" hgq-sim -i x.npy -o v.npy m.hgqm
ok "npy mantissas" hgq-sim -i x.npy --raw -o r.npy m.hgqm
ok "compare values: equal" hgq-sim -i x.npy --compare v.npy m.hgqm
ok "compare mantissas: equal" hgq-sim --raw -i x.npy --compare r.npy m.hgqm
ok "compare with the TSV" hgq-sim -i x.npy --compare a.tsv m.hgqm
# change one value of row 16 (counted from 0, line 18) of the TSV
awk 'NR == 18 { $1 = $1 + 1 } { print }' OFS='\t' a.tsv > bad.tsv
must_fail 1 "compare: a changed row" hgq-sim -i x.npy --compare bad.tsv m.hgqm
check "the first differing row is named" grep -q "row 16 differs" .err
must_fail 2 "compare: trouble is 2" hgq-sim -i x.npy --compare nothere.npy m.hgqm

ok "text report" hgq-sim -i x.npy -l y.npy --report text m.hgqm
check "text report has accuracy" grep -q '^accuracy' .out
check "text report has the confusion matrix" grep -q '^# confusion' .out
ok "json report" hgq-sim -i x.npy -l y.npy --report json m.hgqm
check "json report shape" grep -q '^{"n": 3000, "accuracy": .*"overflows": {"total": .*"samples_per_s": ' .out

ok "vectors" hgq-sim -i x.npy --vectors vec.txt --report json m.hgqm
check "one vector line per row" test "$(wc -l < vec.txt)" -eq 3000
check "two hex fields per line" sh -c '! grep -qv "^[0-9a-f]* [0-9a-f]*$" vec.txt'

mkdata --seed 2 3000 5 x5.npy
must_fail 1 "wrong feature count" hgq-sim -i x5.npy m.hgqm
check "names the file and the counts" grep -q "x5.npy: 5 columns, the model takes 6" .err
printf '1,2,3,4,5,6\n1,2,nan,4,5,6\n' > nan.csv
must_fail 1 "NaN in the input" hgq-sim -i nan.csv -o out.npy m.hgqm
check "names the file" grep -q "nan.csv" .err
check "no partial output file" test ! -e out.npy
check "no temporary file" sh -c '! ls out.npy.tmp.* 2>/dev/null'
must_fail 1 "uncalibrated model" hgq-sim -i x.npy raw.hgqm
check "says why" grep -q "never calibrated" .err
mkdata --seed 3 --int --lo 0 --hi 9 3000 0 y9.npy
must_fail 1 "label out of range" hgq-sim -i x.npy -l y9.npy --report text m.hgqm
check "names the labels file and row" grep -q "y9.npy: row [0-9]*: label" .err
mkdata --seed 3 --int --lo 0 --hi 4 2999 0 yshort.npy
must_fail 1 "fewer labels than rows" hgq-sim -i x.npy -l yshort.npy --report text m.hgqm
if [ -w /dev/full ]; then
	must_fail 1 "stdout to /dev/full" sh -c 'hgq-sim -i x.npy m.hgqm > /dev/full'
fi
done_testing
