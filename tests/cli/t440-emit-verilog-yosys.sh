#!/bin/sh
# One small Yosys synthesis (synth_xilinx, flattened): its LUT count is
# within 10 % of the LUT estimate of the report; scripts/synth-yosys.sh
# prints the counts as JSON.
. "$TESTS_DIR/lib.sh"

need yosys

# seed 8 gave 136 LUTs until the outputs' adders were narrowed to the
# exact ranges of their sums (94 LUTs since): seed 9 keeps a real design
mkfixture --seed 9 --shape 10,12,4 --max-width 8 -o m.hgqm
ok "emit" hgq-emit-verilog --report json -o net.v m.hgqm
est=$(sed 's/^{"adders": [0-9]*, "lut_estimate": \([0-9]*\),.*/\1/' .out)
ok "synthesize" sh "$ROOT/scripts/synth-yosys.sh" net.v
check "JSON counts" grep -q '^{"lut": [0-9]*, "carry": [0-9]*, "ff": 0, ' .out
lut=$(sed 's/^{"lut": \([0-9]*\),.*/\1/' .out)
echo "# LUT estimate $est, Yosys $lut"
check "a real design ($lut LUTs)" test "$lut" -ge 100
check "estimate $est within 10 % of Yosys $lut" \
    test $((est * 10)) -le $((lut * 11)) -a $((est * 10)) -ge $((lut * 9))
sh "$ROOT/scripts/synth-yosys.sh" 2> usage.err
check "synth-yosys.sh without a file: usage, exit 2" test $? -eq 2
check "the usage line" grep -q '^usage: synth-yosys.sh' usage.err
done_testing
