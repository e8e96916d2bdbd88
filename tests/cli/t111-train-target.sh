#!/bin/sh
# hgq-train --target-ebops (train.target_ebops): on the first 4,000
# Fashion-MNIST images, a 784-16-10 network steered to 6,000 EBOPs ends
# within 5 % of it (exact EBOPs of the final model, as hgq-ebops counts
# them); the flag and the key agree; a run resumed with more epochs
# lands too; bad values are refused.  The full-size targets (30,000 and
# 100,000 on examples/fmnist.yaml) are in t191 (make check-slow).
. "$TESTS_DIR/lib.sh"

D=/usr/share/datasets/fashion-mnist
if [ ! -r "$D/train-images-idx3-ubyte.gz" ]; then
	echo "ok 1 - # skip: dataset-fashion-mnist is not installed"
	exit 0
fi

cat > cfg.yaml <<EOF2
seed: 5
data:
  train_x: $D/train-images-idx3-ubyte.gz
  train_y: $D/train-labels-idx1-ubyte.gz
  val_split: 0.1
  normalize: scale
  scale: 0.00390625
model:
  input: { init_f: 4 }
  layers:
    - { type: dense, units: 16, activation: relu }
    - { type: dense, units: 10 }
quantizers:
  weight: { init_f: 2 }
  bias: { init_f: 6 }
  activation: { init_f: 3 }
train:
  epochs: 12
  batch_size: 16
  optimizer: { name: adam, lr: 0.003 }
  beta: 1.0e-7
  gamma: 2.0e-6
  threads: 1
EOF2
TGT=6000
ok "train to $TGT EBOPs" hgq-train -q -c cfg.yaml --limit-train 4000 \
    --target-ebops $TGT --log log.tsv -o a.hgqm
ok "hgq-ebops" hgq-ebops --json a.hgqm
eb=$(sed -n 's/.*"total_ebops": *\([0-9]*\).*/\1/p' .out | head -n 1)
echo "# target $TGT: $eb EBOPs; beta at the end $(tail -n 1 log.tsv | cut -f 7)"
check "EBOPs $eb within 5 % of $TGT" \
    test $((eb * 100)) -ge $((TGT * 95)) -a $((eb * 100)) -le $((TGT * 105))
# the controller moved beta (the schedule says 1e-7 throughout)
check "beta steered" awk -F '\t' '!/^#/ && $7 + 0 != 1e-7 { n++ }
    END { exit !(n >= 11) }' log.tsv

# the config key gives the same model as the flag
sed 's/^  gamma:/  target_ebops: 6000\n  gamma:/' cfg.yaml > key.yaml
ok "train.target_ebops" hgq-train -q -c key.yaml --limit-train 4000 -o b.hgqm
hgq-ebops --dump a.hgqm | jq -S "del(.meta)" > a.json
hgq-ebops --dump b.hgqm | jq -S "del(.meta)" > b.json
same "the key and the flag give the same network (metadata aside)" a.json b.json

# 4 epochs, then resumed to 12 (its descent was planned for 4)
ok "4 epochs" hgq-train -q -c cfg.yaml --limit-train 4000 \
    --target-ebops $TGT --epochs 4 -o part.hgqm
ok "resumed to 12" hgq-train -q -c cfg.yaml --limit-train 4000 \
    --target-ebops $TGT --resume part.hgqm -o c.hgqm
ok "hgq-ebops of the resumed run" hgq-ebops --json c.hgqm
ec=$(sed -n 's/.*"total_ebops": *\([0-9]*\).*/\1/p' .out | head -n 1)
echo "# resumed: $ec EBOPs"
check "the resumed run lands too ($ec)" \
    test $((ec * 100)) -ge $((TGT * 95)) -a $((ec * 100)) -le $((TGT * 105))

must_fail 2 "a negative target" hgq-train -c cfg.yaml --target-ebops -1
must_fail 2 "a target that is no number" hgq-train -c cfg.yaml --target-ebops lots
sed 's/^  gamma:/  target_ebops: -5\n  gamma:/' cfg.yaml > neg.yaml
must_fail 1 "a negative train.target_ebops" hgq-train -c neg.yaml
check "the message names the file" grep -q 'neg.yaml:[0-9]*:[0-9]*:' .err
done_testing
