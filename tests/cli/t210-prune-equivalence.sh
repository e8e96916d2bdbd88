#!/bin/sh
# hgq-prune keeps the function: hgq-sim gives identical outputs for the
# original and the pruned model on thousands of random rows inside and
# far outside the calibrated range; EBOPs do not change; pruning twice
# is pruning once, to the byte.
. "$TESTS_DIR/lib.sh"

# the total EBOPs of a model, from the TSV report
ebops() {
	hgq-ebops --tsv "$1" | awk -F '\t' '!/^#/ { s += $5 } END { print s + 0 }'
}

# seed, shape, extra raw columns, other mkfixture options
while read -r seed shape extra opts; do
	name="s$seed"
	# shellcheck disable=SC2086
	mkfixture --seed "$seed" --shape "$shape" --raw-extra "$extra" \
	    $opts -o "$name.hgqm"
	cols=$(($(echo "$shape" | cut -d, -f1) + extra))
	mkdata --seed "$seed" --lo -4 --hi 4 3000 "$cols" in.npy
	mkdata --seed "$seed" --lo -1000000 --hi 1000000 3000 "$cols" out.npy

	ok "$name: prune" hgq-prune -o "$name.p.hgqm" "$name.hgqm"
	for x in in out; do
		hgq-sim -i "$x.npy" -o "$name.$x.a.npy" --raw "$name.hgqm"
		hgq-sim -i "$x.npy" -o "$name.$x.b.npy" --raw "$name.p.hgqm"
		check "$name: sim ran on $x-range rows" \
		    test -s "$name.$x.a.npy" -a -s "$name.$x.b.npy"
		same "$name: identical outputs on $x-range rows" \
		    "$name.$x.a.npy" "$name.$x.b.npy"
	done
	ok "$name: --compare agrees" hgq-sim -i out.npy --raw \
	    --compare "$name.out.a.npy" "$name.p.hgqm"
	check "$name: EBOPs unchanged" \
	    test "$(ebops "$name.hgqm")" = "$(ebops "$name.p.hgqm")"
	ok "$name: prune again" hgq-prune -o "$name.pp.hgqm" "$name.p.hgqm"
	same "$name: prune(prune(m)) = prune(m)" "$name.p.hgqm" "$name.pp.hgqm"
done <<EOF
1 8,6,5,3 0
2 16,12,8,4 3 --norm standard
3 5,9,2 1 --train
4 12,16,16,10 0 --compress
15 20,7,3 5 --norm scale --train
6 4,3,2 0 --regress
7 30,20,10,5,2 2
8 9,9,9 0 --max-width 3
9 16,64,32,32,5 0 --norm standard
10 6,40,6 4 --train --compress
11 3,2 0
12 24,12,6 0 --max-width 16
EOF

# the pipeline of DESIGN.md, with a model from the fixture generator
mkfixture --seed 21 --shape 10,8,4 -o p.hgqm
ok "prune | ebops in a pipeline" sh -c 'hgq-prune -q < p.hgqm | hgq-ebops'
check "the pipeline prints the total" grep -q '^total ' .out

done_testing
