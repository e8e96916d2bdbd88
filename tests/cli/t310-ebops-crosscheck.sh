#!/bin/sh
# hgq-ebops against an independent computation from the JSON dump (jq):
# per dense layer, bits(a_i) * span(w_ij) summed over the
# multiplications into live elements; and the JSON report's shape.
. "$TESTS_DIR/lib.sh"

need jq

cat > ebops.jq <<'EOF'
# span: bits from the most to the least significant 1 of |m|
def span: if . == 0 then 0 else (if . < 0 then -. else . end)
    | until(. % 2 == 1; . / 2)
    | [recurse(if . >= 2 then (. / 2 | floor) else empty end)] | length end;
def widths: . as $q | [range(0; $q.n) | ($q.k[.] + $q.i[.] + $q.f[.])
    | if . > 0 then . else 0 end];
# live[l]: outputs of width > 0; earlier elements of width > 0 with a
# non-zero weight into a live element of the next quantizer
.layers as $L | ($L | length) as $n |
(reduce range($n - 3; -1; -2) as $l (
    {($n - 1 | tostring): ($L[$n - 1] | widths | map(. > 0))};
    .[($l + 2) | tostring] as $next | $L[$l + 1] as $d |
    ($L[$l] | widths) as $wd |
    . + {($l | tostring): [range(0; $L[$l].n) as $i | $wd[$i] > 0 and
        any(range(0; $d.n_out); $d.weight_mantissa[$i][.] != 0 and $next[.])]}
)) as $live |
[range(1; $n; 2) as $l | $L[$l] as $d | ($L[$l - 1] | widths) as $wd |
    $live[($l + 1) | tostring] as $out |
    ([range(0; $d.n_in) as $i | range(0; $d.n_out) as $j | select($out[$j]) |
    $wd[$i] * ($d.weight_mantissa[$i][$j] | span)] | add) // 0]
EOF

# a jq condition on a file, quietly
jqt() {
	jq -e "$@" >/dev/null
}

while read -r seed shape opts; do
	# shellcheck disable=SC2086
	mkfixture --seed "$seed" --shape "$shape" $opts -o m.hgqm
	want=$(hgq-ebops --dump m.hgqm | jq -c -f ebops.jq)
	hgq-ebops --json m.hgqm > r.json
	got=$(jq -c '[.layers[].ebops]' r.json)
	check "seed $seed: per-layer EBOPs $got = $want" test "$got" = "$want"
	check "seed $seed: total = sum of the layers" \
	    test "$(jq '.total_ebops' r.json)" = "$(jq '[.layers[].ebops] | add' r.json)"
	check "seed $seed: weights = nonzero + pruned" \
	    jqt 'all(.layers[]; .weights == .nonzero_weights + .pruned)' r.json
	check "seed $seed: span_hist sums to the weights" \
	    jqt 'all(.layers[]; (.span_hist | add) == .weights)' r.json
	check "seed $seed: width_hist sums to n_in" \
	    jqt 'all(.layers[]; (.width_hist | add) == .n_in)' r.json
	check "seed $seed: uniform8 = 64 x nonzero" \
	    jqt 'all(.layers[]; .uniform8_ebops == 64 * .nonzero_weights)' r.json
	check "seed $seed: lut_estimate = round(0.7 x ebops)" \
	    jqt 'all(.layers[]; .lut_estimate == ((.ebops * 7 + 5) / 10 | floor))
	    and .lut_estimate == ((.total_ebops * 7 + 5) / 10 | floor)' r.json
	check "seed $seed: names and indices" \
	    jqt '[.layers[] | [.name, .index]] == [range(0; .layers | length) |
	    ["dense_\(. + 1)", 2 * . + 1]]' r.json
	hgq-prune -q -o p.hgqm m.hgqm 2>/dev/null &&
	    check "seed $seed: pruned model, same EBOPs by jq" \
	    test "$(hgq-ebops --dump p.hgqm | jq -c -f ebops.jq | jq add)" = \
	    "$(jq '.total_ebops' r.json)"
done <<EOF
1 8,6,5,3
2 16,12,8,4 --norm standard
4 12,16,16,10
7 30,20,10,5,2 --max-width 12
9 16,64,32,32,5
13 5,1,5
14 40,3 --max-width 2
EOF

done_testing
