#!/bin/sh
# Numbers at the edges of the format (tests/data/edge-*, made by
# mkhostile.py with exact rational arithmetic): widths of 32 bits, |i| and
# |f| of 62, widths 1 and 0, accumulators within a few units of 2^62,
# inputs of +-1e300 and subnormals, WRAP and SAT of 62-bit sums into 32
# bits.  hgq-sim is exact on them, hgq-ebops counts them, hgq-prune keeps
# them, the emitted Verilog agrees (with Icarus, when installed); and
# models whose accumulators would need more than 62 bits are refused with
# a message, never wrapped silently.
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/lib-hostile.sh"

D=$ROOT/tests/data

for m in edge-wide-sat edge-wide-wrap edge-fine; do
	ok "$m: hgq-sim" hgq-sim -t 1 --raw -i "$D/$m.npy" "$D/$m.hgqm"
	cp .out "$m.tsv"
	same "$m: exact mantissas" "$m.tsv" "$D/$m.ok"
	ok "$m: hgq-sim, values" hgq-sim -t 2 -i "$D/$m.npy" -o "$m-v.npy" "$D/$m.hgqm"
	ok "$m: compare the mantissas with the expected ones" \
	    hgq-sim -t 1 --raw -i "$D/$m.npy" --compare "$D/$m.ok" "$D/$m.hgqm"
	ok "$m: hgq-prune" hgq-prune -q -o "$m-p.hgqm" "$D/$m.hgqm"
	ok "$m: pruned, the same mantissas" \
	    hgq-sim -t 1 --raw -i "$D/$m.npy" --compare "$D/$m.ok" "$m-p.hgqm"
done

# 2^20 raw inputs (the format allows 2^24): hgq-sim sizes its chunks of
# rows by the row width (it asked for 8192 rows, 64 GiB, and gave up)
ok "2^20 raw inputs: hgq-sim" hgq-sim -t 2 --raw -i "$D/edge-wide-input.npy.gz" \
    "$D/edge-wide-input.hgqm"
cp .out wide.tsv
same "2^20 raw inputs: exact mantissas" wide.tsv "$D/edge-wide-input.ok"

# EBOPs by hand: input widths 32,32,32,32,1,0 times weight spans:
# 32*1 + 32*29 + 32*2 + 32*3 + 32*1 + 1*31 (the width-0 input costs 0)
ok "edge-wide-sat: hgq-ebops" hgq-ebops --json "$D/edge-wide-sat.hgqm"
check "1183 EBOPs" grep -q '"total_ebops": 1183,' .out
# live outputs 0 and 2 only: 32*1 + 32*1 + 25*1 + 32*1 + 25*3
ok "edge-fine: hgq-ebops" hgq-ebops --json "$D/edge-fine.hgqm"
check "196 EBOPs" grep -q '"total_ebops": 196,' .out

# refused: |w| * max|a| = 2^62; two terms of 2^62 - 2^31; a 124-bit shift
for m in edge-acc62 edge-acc-sum edge-shift; do
	want_name=$m.hgqm want_msg='*layer 1: the accumulator would need more than 62 bits*'
	refuses hgq-sim "$m: refused" hgq-sim -t 1 -i "$D/edge-wide-sat.npy" -o out.npy "$D/$m.hgqm"
	ok "$m: hgq-ebops still counts it" hgq-ebops "$D/$m.hgqm"
done

if command -v hgq-emit-verilog >/dev/null 2>&1; then
	for m in edge-acc62 edge-acc-sum edge-shift; do
		want_name=$m.hgqm want_msg='*layer 1*62 bits*'
		refuses hgq-emit-verilog "$m: refused" hgq-emit-verilog -o out.v "$D/$m.hgqm"
	done
	for m in edge-wide-sat edge-wide-wrap edge-fine; do
		ok "$m: Verilog" hgq-emit-verilog -o "$m.v" --testbench "$m-tb.v" \
		    --vectors "$D/$m.npy" "$D/$m.hgqm"
		if have iverilog && have vvp; then
			ok "$m: Icarus" sh -c "iverilog -g2005 -o $m.vvp $m-tb.v $m.v &&
			    vvp -n $m.vvp > $m.sim"
			check "$m: every vector passes" grep -q '^PASS [0-9]' "$m.sim"
		fi
	done
fi
done_testing
