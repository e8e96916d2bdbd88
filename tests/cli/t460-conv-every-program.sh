#!/bin/sh
# A Conv1D network on [50, 3] inputs (issue 12) through every program on
# generated data: hgq-train (a few steps, calibrated at the end),
# hgq-prune, hgq-ebops (the EBOPs training logged for its last epoch,
# before and after pruning), hgq-sim (the pruned model computes the same
# mantissas as the trained one) and hgq-emit-verilog, whose testbench
# passes under Icarus Verilog on a handful of rows, combinational,
# pipelined and behavioral.
# The SVHN architecture does the same in t192 (slow: a fully parallel
# design of some 10^5 adders).
. "$TESTS_DIR/lib.sh"

mkdata --seed 6 80 150 x50.npy
mkdata --seed 7 --int --lo 0 --hi 2 80 0 y2.npy
cat > c1.yaml <<EOF2
seed: 3
data: { train_x: x50.npy, train_y: y2.npy, input_shape: [50, 3],
        val_split: 0.25 }
model:
  layers:
  - { type: conv1d, filters: 4, kernel: 5, stride: 2, activation: relu }
  - { type: maxpool1d, pool: 2 }
  - { type: conv1d, filters: 4, kernel: 3, padding: same,
      activation: relu, batchnorm: true }
  - { type: avgpool1d, pool: 4 }
  - { type: flatten }
  - { type: dense, units: 8, activation: relu }
  - { type: dense, units: 2 }
train: { epochs: 2, batch_size: 20, threads: 2, beta: 1.0e-4 }
EOF2
ok "hgq-train: the Conv1D network" hgq-train -q -c c1.yaml -o c1.hgqm
ok "hgq-prune" hgq-prune -q -o p.hgqm c1.hgqm
# the exact EBOPs of the last epoch, column 5 of the log in the metadata
t='[^\\]*\\t'
eb=$(hgq-ebops --dump c1.hgqm |
    sed -n "s/.*\\\\n2\\\\t$t$t$t\\([0-9]*\\)\\\\t.*/\\1/p")
check "training logged its exact EBOPs ($eb)" test -n "$eb"
ok "hgq-ebops of the trained model" hgq-ebops --json c1.hgqm
check "... the same EBOPs" grep -q "\"total_ebops\": $eb,\$" .out
ok "hgq-ebops of the pruned model" hgq-ebops --json p.hgqm
check "... the same EBOPs" grep -q "\"total_ebops\": $eb,\$" .out
ok "hgq-sim: the trained model" hgq-sim --raw -t 1 -i x50.npy -o a.npy c1.hgqm
ok "hgq-sim: the pruned model computes the same mantissas" \
    hgq-sim --raw -t 2 -i x50.npy --compare a.npy p.hgqm
ok "hgq-sim: accuracy on the labels" \
    hgq-sim -t 2 -i x50.npy -l y2.npy --report json p.hgqm
check "... of 80 rows" grep -q '^{"n": 80, "accuracy"' .out

have iverilog || { done_testing; exit; }
for v in "0 adders" "3 adders" "1 behavioral"; do
	set -- $v
	ok "hgq-emit-verilog --pipeline $1 --style $2" \
	    hgq-emit-verilog --pipeline $1 --style $2 -n 8 -o n$1$2.v \
	    --testbench tb$1$2.v --vectors x50.npy p.hgqm
	iverilog -g2005 -o sim$1$2 tb$1$2.v n$1$2.v &&
	    vvp -n sim$1$2 > run$1$2.txt 2>&1
	check "pipeline $1, $2: Icarus Verilog PASS 8" \
	    grep -q '^PASS 8$' run$1$2.txt
done
done_testing
