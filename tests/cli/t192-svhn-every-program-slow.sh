#!/bin/sh
# The SVHN architecture of the HGQ paper (issue 12) through every program
# on generated data: 32x32x3 -> conv 16 3x3 -> max-pool 2 -> conv 16 3x3
# -> max-pool 2 -> conv 24 3x3 -> max-pool 2 -> flatten -> dense 42 ->
# dense 64 -> dense 10, batch norm on the dense layers.  A few training
# steps, hgq-prune (same mantissas as the trained model, EBOPs never
# higher), hgq-sim, hgq-ebops, and the fully parallel Verilog under
# Icarus Verilog on a few rows.  Slow: the fully parallel design has
# some 10^5 adders, so it runs only with HGQ_SLOW=1 (make check-slow);
# it is emitted with --modules, since Icarus elaborates one module in
# time quadratic in its signals (the flat design did not compile in 20
# minutes).
. "$TESTS_DIR/lib.sh"

if [ "${HGQ_SLOW:-0}" != 1 ]; then
	echo "ok 1 - # skip: slow (make check-slow runs it)"
	exit 0
fi

mkdata --seed 1 64 3072 x32.npy
mkdata --seed 2 --int --lo 0 --hi 10 64 0 y10.npy
cat > svhn.yaml <<EOF2
seed: 1
data: { train_x: x32.npy, train_y: y10.npy, input_shape: [32, 32, 3],
        val_split: 0.25 }
model:
  layers:
  - { type: conv2d, filters: 16, kernel: 3, activation: relu }
  - { type: maxpool2d, pool: 2 }
  - { type: conv2d, filters: 16, kernel: 3, activation: relu }
  - { type: maxpool2d, pool: 2 }
  - { type: conv2d, filters: 24, kernel: 3, activation: relu }
  - { type: maxpool2d, pool: 2 }
  - { type: flatten }
  - { type: dense, units: 42, activation: relu, batchnorm: true }
  - { type: dense, units: 64, activation: relu, batchnorm: true }
  - { type: dense, units: 10, batchnorm: true }
train: { epochs: 1, batch_size: 16, threads: 2, beta: 1.0e-6 }
EOF2
ok "hgq-train: the SVHN architecture" hgq-train -q -c svhn.yaml -o s.hgqm
ok "hgq-prune" hgq-prune -q -o p.hgqm s.hgqm
ok "hgq-sim: the trained model" hgq-sim --raw -i x32.npy -o a.npy s.hgqm
ok "hgq-sim: the pruned model computes the same mantissas" \
    hgq-sim --raw -i x32.npy --compare a.npy p.hgqm
ok "hgq-ebops: the trained model" sh -c 'hgq-ebops --json s.hgqm > e0.json'
ok "hgq-ebops: the pruned model" sh -c 'hgq-ebops --json p.hgqm > e1.json'
e0=$(sed -n 's/^  "total_ebops": \([0-9]*\),$/\1/p' e0.json)
e1=$(sed -n 's/^  "total_ebops": \([0-9]*\),$/\1/p' e1.json)
check "pruning never raises the EBOPs ($e0 -> $e1)" \
    test -n "$e1" -a "${e1:-1}" -le "${e0:-0}"

have iverilog || { done_testing; exit; }
ok "hgq-emit-verilog --pipeline 4 --modules" hgq-emit-verilog \
    --pipeline 4 --modules -n 3 -o n.v --testbench tb.v --vectors x32.npy p.hgqm
iverilog -g2005 -o sim tb.v n.v && vvp -n sim > run.txt 2>&1
check "Icarus Verilog PASS 3" grep -q '^PASS 3$' run.txt
done_testing
