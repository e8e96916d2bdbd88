#!/bin/sh
# A small graph from a config with what the muon network (t470) does not
# use: two inputs of different shapes, flatten on a model input's
# quantizer, subtract, a sigmoid table, concatenate and two named
# outputs, trained by MSE over both.  hgq-sim's MSE is training's exact
# one, pruning keeps the mantissas, and the Verilog has a port per input
# and per output and passes its testbench, combinational and pipelined.
. "$TESTS_DIR/lib.sh"

mkdata --seed 3 200 10 x.npy
mkdata --seed 4 200 3 y.npy
cat > g.yaml <<EOF2
seed: 5
data: { train_x: x.npy, train_y: y.npy, test_x: x.npy, test_y: y.npy }
model:
  inputs:
    - { name: a, shape: [6] }
    - { name: b, shape: [2, 2] }
  layers:
    - { name: da, type: dense, inputs: [a], units: 4, activation: relu }
    - { type: flatten, inputs: [b] }
    - { name: db, type: dense, units: 4 }
    - { name: s, type: subtract, inputs: [da, db] }
    - { name: g, type: lut, function: sigmoid }
    - { name: c, type: concatenate, inputs: [g, da] }
    - { name: y1, type: dense, units: 2 }
    - { name: y2, type: dense, inputs: [s], units: 1 }
  outputs: [y1, y2]
train: { epochs: 2, batch_size: 20, threads: 2, loss: mse, beta: 1.0e-5 }
EOF2
ok "the two-output graph trains" hgq-train -c g.yaml -o g.hgqm
mse=$(sed -n 's/^hgq-train: test mse \([0-9.e-]*\) (exact).*/\1/p' .err)
ok "hgq-sim" hgq-sim -t 2 --report json -i x.npy -l y.npy g.hgqm
sim=$(sed -n 's/.*"mse": \([0-9.e-]*\),.*/\1/p' .out)
check "hgq-sim's MSE over both outputs is training's ($mse, $sim)" \
    awk -v a="$mse" -v s="$sim" \
    'BEGIN { exit !(a != "" && sprintf("%.4g", s) == a) }'
ok "hgq-sim writes both outputs" hgq-sim --raw -t 1 -i x.npy -o a.tsv g.hgqm
check "... three columns" sh -c \
    '[ "$(awk -F"\t" "{ print NF }" a.tsv | sort -u)" = 3 ]'
ok "hgq-prune" hgq-prune -q -o gp.hgqm g.hgqm
ok "hgq-sim: the pruned graph computes the same mantissas" \
    hgq-sim --raw -t 2 -i x.npy --compare a.tsv gp.hgqm

have iverilog || { done_testing; exit; }
for p in 0 2; do
	ok "hgq-emit-verilog --pipeline $p" hgq-emit-verilog --pipeline $p \
	    -n 50 -o n$p.v --testbench tb$p.v --vectors x.npy gp.hgqm
	check "pipeline $p: ports inp_a, inp_b, out_y1, out_y2" sh -c \
	    "grep -q 'input \[[0-9]*:0\] inp_a' n$p.v &&
	    grep -q 'input \[[0-9]*:0\] inp_b' n$p.v &&
	    grep -q 'output \[[0-9]*:0\] out_y1' n$p.v &&
	    grep -q 'output \[[0-9]*:0\] out_y2' n$p.v"
	iverilog -g2005 -o sim$p tb$p.v n$p.v && vvp -n sim$p > run$p.txt 2>&1
	check "pipeline $p: Icarus Verilog PASS 50" grep -q '^PASS 50$' run$p.txt
done
done_testing
