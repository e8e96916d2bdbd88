#!/bin/sh
# hgq-prune on convolutional models: dead filters go with the next
# layer's input channels, through pooling and flatten to the dense rows;
# the pruned model computes the same outputs (hgq-sim --compare), its
# EBOPs do not grow, pruning it again changes nothing, and its Verilog
# has the same ports and passes its testbench.  (The exact
# kernels and counts of a hand-made model: check_prune.)
. "$TESTS_DIR/lib.sh"

# conv1d -> conv1d -> maxpool -> flatten -> dense: one filter of the
# second conv computes nothing
mkfixture --seed 3 --max-width 12 \
    --arch in:10x3,conv1d:4:3:1:same,conv1d:5:3,maxpool:2,flatten,dense:2 \
    -o c1.hgqm
ok "a conv1d model prunes" hgq-prune -o p1.hgqm c1.hgqm
cat > want.err <<'EOF2'
hgq-prune: conv1d_1: 3x3x4 -> 3x3x4 (0 input channels, 0 filters removed; 13 zero weights left)
hgq-prune: conv1d_2: 3x4x5 -> 3x4x4 (0 input channels, 1 filter removed; 12 zero weights left)
hgq-prune: maxpool_1: 5 -> 4 channels (1 removed)
hgq-prune: flatten_1: 20 -> 16 elements (4 removed)
hgq-prune: dense_1: 20x2 -> 16x2 (4 inputs, 0 neurons removed, 1 zero-width output cleared; 22 zero weights left)
EOF2
same "the report: one filter, one channel, 4 dense rows" .err want.err
ok "dump" sh -c 'hgq-ebops --dump p1.hgqm > p1.json'
check "the shapes in 'pruned'" grep -q \
    '"pruned": "10x3-10x4-8x5-4x5-20-2 -> 10x3-10x4-8x4-4x4-16-2"' p1.json
check "the input keeps its shape" grep -q '"shape": \[10, 3\]' p1.json

mkdata --seed 5 --lo -8 --hi 8 300 30 x30.npy
mkdata --seed 6 --lo -5000 --hi 5000 300 30 far30.npy
for x in x30 far30; do
	ok "$x: outputs of the original" hgq-sim -i $x.npy -o $x.tsv c1.hgqm
	ok "$x: the pruned model's are the same" \
	    hgq-sim -i $x.npy --compare $x.tsv p1.hgqm
done
ebops() { hgq-ebops --json "$1" | grep -o '"total_ebops": [0-9]*'; }
check "EBOPs unchanged (nothing was always 0)" \
    test "$(ebops c1.hgqm)" = "$(ebops p1.hgqm)"
ok "pruning again" hgq-prune -q -o pp1.hgqm p1.hgqm
same "changes nothing" p1.hgqm pp1.hgqm

# conv2d (same padding) -> avgpool -> conv2d -> flatten -> dense, over
# several seeds: the same function, EBOPs never more
for s in 1 4 6 7; do
	mkfixture --seed $s --max-width 10 --arch \
	    in:6x6x2,conv2d:4:3x3:1x1:same,avgpool:2x2,conv2d:3:2x2,flatten,dense:3 \
	    -o c2.hgqm
	mkdata --seed $s --lo -20 --hi 20 200 72 x72.npy
	ok "seed $s: conv2d model prunes" hgq-prune -q -o p2.hgqm c2.hgqm
	ok "seed $s: outputs of the original" hgq-sim -i x72.npy -o c2.tsv c2.hgqm
	ok "seed $s: the same outputs" hgq-sim -i x72.npy --compare c2.tsv p2.hgqm
	check "seed $s: EBOPs never more" test \
	    "$(ebops p2.hgqm | tr -dc 0-9)" -le "$(ebops c2.hgqm | tr -dc 0-9)"
done
mkfixture --seed 6 --max-width 10 --arch \
    in:6x6x2,conv2d:4:3x3:1x1:same,avgpool:2x2,conv2d:3:2x2,flatten,dense:3 \
    -o c6.hgqm
ok "seed 6 again" hgq-prune -o p6.hgqm c6.hgqm
check "seed 6: 2 filters of the second conv go" grep -qx \
    'hgq-prune: conv2d_2: 2x2x4x3 -> 2x2x4x1 (0 input channels, 2 filters removed; 7 zero weights left)' .err
check "seed 6: their 8 flat elements" grep -qx \
    'hgq-prune: flatten_1: 12 -> 4 elements (8 removed)' .err

ok "in a pipeline" sh -c 'hgq-prune -q < c1.hgqm | hgq-ebops > /dev/null'

# the pruned model's Verilog: the same input port (the shaped input keeps
# every element; zero-width ones take no bits either way), and its
# testbench passes on vectors from the engine
ports() { sed 's/.*"inp_bits": \([0-9]*\), "out_bits": \([0-9]*\),.*/\1 \2/' "$1"; }
ok "emit the original" hgq-emit-verilog --report json -o c1.v c1.hgqm
ports .out > c1.ports
ok "emit the pruned model" hgq-emit-verilog --report json -o p1.v \
    --testbench tb1.v --vectors x30.npy p1.hgqm
ports .out > p1.ports
same "the same port widths" c1.ports p1.ports
if have iverilog; then
	iverilog -g2005 -o sim1 tb1.v p1.v && vvp -n sim1 > run1.txt 2>&1
	check "the pruned design: PASS 300" grep -q '^PASS 300$' run1.txt
fi
done_testing
