#!/bin/sh
# hgq-prune on a trained model: two input columns are always 0 in the
# training data, so calibration gives them width 0 and pruning drops
# them from the index map; hgq-sim still reads 12 raw columns and gives
# identical outputs, also when those columns are not 0.
. "$TESTS_DIR/lib.sh"

need hgq-train

train_small "3 7"
ok "prune it" hgq-prune -o p.hgqm t.hgqm
check "the two zero columns go" grep -q '^hgq-prune: dense_1: 12x16 -> 10x' .err
ok "train | prune | ebops" sh -c 'hgq-train -q -c c.yaml | hgq-prune -q | hgq-ebops'
check "the pipeline prints the total" grep -q '^total ' .out
ok "dump" hgq-ebops --dump p.hgqm
check "the index map skips columns 3 and 7" \
    grep -q '"index_map": \[0, 1, 2, 4, 5, 6, 8, 9, 10, 11\]' .out
check "n_raw stays 12" grep -q '"n_raw": 12,' .out

mkdata --seed 1 --lo -3 --hi 3 4000 12 in.npy
mkdata --seed 2 --lo -100000 --hi 100000 4000 12 out.npy
for x in in out; do
	ok "sim of the trained model, $x-range" \
	    hgq-sim -i $x.npy -o $x.a.npy --raw t.hgqm
	ok "sim of the pruned model, $x-range" \
	    hgq-sim -i $x.npy -o $x.b.npy --raw p.hgqm
	same "identical outputs, $x-range" $x.a.npy $x.b.npy
done
a=$(hgq-ebops --json t.hgqm | grep '"total_ebops"')
b=$(hgq-ebops --json p.hgqm | grep '"total_ebops"')
check "EBOPs unchanged" test "$a" = "$b"
ok "prune again" hgq-prune -o pp.hgqm p.hgqm
same "idempotent" p.hgqm pp.hgqm

done_testing
