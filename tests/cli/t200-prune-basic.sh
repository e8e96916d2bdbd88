#!/bin/sh
# hgq-prune: options, streams, the report, refusals and atomic output.
. "$TESTS_DIR/lib.sh"

mkfixture --seed 3 --shape 8,6,5,3 -o m.hgqm
mkfixture --seed 3 --shape 8,6,5,3 --uncalibrated -o raw.hgqm
# every width is 0 or below: no input is used
mkfixture --seed 3 --shape 8,6,5,3 --max-width 0 -o dead.hgqm

usual_options hgq-prune m.hgqm
must_fail 2 "two operands are a usage error" hgq-prune m.hgqm m.hgqm
must_fail 2 "-o needs an argument" hgq-prune m.hgqm -o
must_fail 1 "missing model" hgq-prune nonexistent.hgqm
check "the message names the file" grep -q "nonexistent.hgqm" .err
must_fail 1 "an empty model" hgq-prune /dev/null
must_fail 1 "not a model" hgq-prune "$TESTS_DIR/lib.sh"

ok "prune to stdout" sh -c 'hgq-prune m.hgqm > a.hgqm'
ok "prune with -o" hgq-prune -o b.hgqm m.hgqm
same "stdout and -o agree" a.hgqm b.hgqm
ok "model from stdin" sh -c 'hgq-prune - < m.hgqm > c.hgqm'
same "stdin and operand agree" a.hgqm c.hgqm
ok "model from stdin, no operand" sh -c 'hgq-prune < m.hgqm > d.hgqm'
same "no operand reads stdin" a.hgqm d.hgqm
check "the pruned model is smaller" \
    test "$(wc -c < a.hgqm)" -lt "$(wc -c < m.hgqm)"

# the per-layer report
ok "report on stderr" hgq-prune -o e.hgqm m.hgqm
check "one line per dense layer" test "$(wc -l < .err)" -eq 3
check "the report format" grep -Eq '^hgq-prune: dense_1: 8x6 -> [0-9]+x[0-9]+ \([0-9]+ inputs?, [0-9]+ neurons? removed' .err
check "every layer is named" \
    test "$(grep -c '^hgq-prune: dense_[123]: ' .err)" -eq 3
check "nothing on stdout with -o" test ! -s .out
ok "-q is quiet" hgq-prune -q -o f.hgqm m.hgqm
check "-q: nothing on stderr" test ! -s .err
ok "--quiet is quiet" hgq-prune --quiet -o f.hgqm m.hgqm
check "--quiet: nothing on stderr" test ! -s .err

# what the model says about itself
ok "dump of the pruned model" hgq-ebops --dump a.hgqm
cp .out a.json
ok "dump of the original" hgq-ebops --dump m.hgqm
cp .out m.json
check "the raw input keeps its width" \
    test "$(grep '"n_raw"' a.json)" = "$(grep '"n_raw"' m.json)"
check "metadata records the pruning" grep -q '"pruned": "8-6-5-3 -> ' a.json
check "the first quantizer is smaller" \
    test "$(grep -m1 '"n":' a.json)" != "$(grep -m1 '"n":' m.json)"

# refusals
must_fail 1 "an uncalibrated model" hgq-prune raw.hgqm
check "it says why" grep -q "never calibrated" .err
must_fail 1 "a model that prunes to nothing" hgq-prune -o out.hgqm dead.hgqm
check "it says why" \
    grep -q "model prunes to nothing: every input is unused" .err
check "no output file is left" test ! -e out.hgqm
check "no temporary file is left" sh -c '! ls out.hgqm.tmp.* 2>/dev/null'
# the most metadata entries: no room for "pruned", unless it replaces one
mkfixture --seed 3 --shape 8,6,5,3 --meta 1024 -o full.hgqm
must_fail 1 "1024 metadata entries" hgq-prune -o out.hgqm full.hgqm
check "it says why" grep -qx "hgq-prune: cannot prune model 'full.hgqm': \
no room for the metadata entry 'pruned': the model has 1024 entries, the limit" .err
check "no output file" test ! -e out.hgqm
mkfixture --seed 3 --shape 8,6,5,3 --meta 1023 -o m1023.hgqm
ok "1023 entries: pruned" hgq-prune -o p1023.hgqm m1023.hgqm
ok "and pruned again: 'pruned' is replaced" hgq-prune -o pp1023.hgqm p1023.hgqm
same "... the same model" p1023.hgqm pp1023.hgqm
must_fail 1 "an unwritable output folder" hgq-prune -o no/such/dir/x.hgqm m.hgqm
if [ -w /dev/full ]; then
	hgq-prune m.hgqm > /dev/full 2> full.err
	check "stdout to /dev/full exits 1" test $? -eq 1
	check "the write error is reported" grep -q '^hgq-prune: ' full.err
fi

done_testing
