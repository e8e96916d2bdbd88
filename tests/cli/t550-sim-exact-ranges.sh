#!/bin/sh
# Models whose sums fit in a few bits although an accumulator shared by
# the whole layer, or one sized from the quantizer formats alone, would
# not (tests/data/edge-mixed-exp, edge-dead-f60, edge-narrow-chain, made
# by mkhostile.py): hgq-sim runs them (it used to refuse them while
# hgq-emit-verilog accepted them) and gives the outputs that exact
# rational arithmetic gives; the Verilog gives the same under Icarus; and
# a SAT output gets clipping logic only on a side that a value can pass.
. "$TESTS_DIR/lib.sh"

D=$ROOT/tests/data

for m in edge-mixed-exp edge-dead-f60 edge-narrow-chain; do
	ok "$m: hgq-sim" hgq-sim -t 1 --raw -i "$D/$m.npy" "$D/$m.hgqm"
	cp .out "$m.tsv"
	same "$m: the exact mantissas" "$m.tsv" "$D/$m.ok"
	ok "$m: two threads, the same" hgq-sim -t 2 --raw -i "$D/$m.npy" \
	    --compare "$D/$m.ok" "$D/$m.hgqm"
	ok "$m: Verilog" hgq-emit-verilog -o "$m.v" --testbench "$m-tb.v" \
	    --vectors "$D/$m.npy" "$D/$m.hgqm"
	if command -v iverilog >/dev/null 2>&1; then
		ok "$m: Icarus" sh -c "iverilog -g2005 -o $m.vvp $m-tb.v $m.v &&
		    vvp -n $m.vvp > $m.sim"
		check "$m: every vector passes" grep -q '^PASS 40$' "$m.sim"
	fi
done

# The clips: edge-mixed-exp output 0 (exact range [-1791, 1779] at 2^-60,
# format [-1024, 1023]) clips on both sides; output 1 (exact range
# [-1821, 2004] * 2^10 at 2^-10, format +-2^21) fits and gets none,
# although its adder graph's interval is wider.  edge-dead-f60: both live
# outputs fit.  edge-narrow-chain: the last output (k = 0) clips below
# only (x = 0 gives -5/2), the 32-bit quantizer holding 0..3 never.
clips() {
	grep -c '^	v[0-9]*_\(hi\|lo\) = ' "$1.v"
}
check "edge-mixed-exp: 2 clip tests" test "$(clips edge-mixed-exp)" -eq 2
check "edge-dead-f60: no clip test" test "$(clips edge-dead-f60)" -eq 0
check "edge-narrow-chain: 1 clip test" test "$(clips edge-narrow-chain)" -eq 1
check "edge-narrow-chain: it is the lower side" \
    grep -q '^	v[0-9]*_lo = ' edge-narrow-chain.v
done_testing
