#!/bin/sh
# hgq-train: --resume continues a run exactly, after a finished run and
# after an interruption (SIGTERM, handled like Ctrl-C).
. "$TESTS_DIR/lib.sh"

lin3_data 11

cat > cfg.yaml <<EOF2
seed: 9
data: { train_x: d.csv, label_col: 6, val_split: 0.25 }
model:
  layers:
    - { type: dense, units: 12, activation: relu }
    - { type: dense, units: 3 }
train:
  epochs: 8
  batch_size: 50
  optimizer: { name: adam, lr: 0.01 }
  lr_schedule: { type: cosine_restarts, period: 3, decay: 0.9 }
  beta: [ { epoch: 0, value: 1.0e-6, interp: log }, { epoch: 8, value: 1.0e-4 } ]
  threads: 2
EOF2

ok "eight epochs straight" hgq-train -q -c cfg.yaml -o full.hgqm
ok "three epochs" hgq-train -q -c cfg.yaml --epochs 3 -o three.hgqm
ok "resumed to eight" hgq-train -q -c cfg.yaml --resume three.hgqm -o res.hgqm
same "resume equals the uninterrupted run" full.hgqm res.hgqm
ok "resuming a finished run changes nothing" hgq-train -q -c cfg.yaml --resume full.hgqm -o again.hgqm
same "still the same model" full.hgqm again.hgqm
must_fail 1 "resume from a missing file" hgq-train -c cfg.yaml --resume nothere.hgqm -o x.hgqm
check "names it" grep -q "nothere.hgqm" .err

# a long run, stopped from outside once it is under way; then the stopped
# run, resumed to a few epochs past where it stopped, must equal a
# straight run of as many epochs (the trainer is fast: read where it
# stopped rather than guess)
sed 's/epochs: 8/epochs: 100000/' cfg.yaml > long.yaml
echo "output: { log: long.tsv }" >> long.yaml
hgq-train -c long.yaml -o int.hgqm 2> int.err &
pid=$!
wait_for "$pid" long.tsv 2 '^[0-9]'
kill -TERM "$pid"
wait "$pid"
st=$?
check "stopped: exit 1 ($st)" test "$st" -eq 1
check "says it was interrupted" grep -q "^hgq-train: interrupted" int.err
check "the model so far was written" test -s int.hgqm
check "no temporary file" sh -c '! ls int.hgqm.tmp.* 2>/dev/null'
stopped=$(sed -n 's/^hgq-train: interrupted in epoch \([0-9]*\).*/\1/p' int.err)
check "the message names the epoch ($stopped)" test -n "$stopped"
E=$((${stopped:-0} + 2))
sed "s/epochs: 100000/epochs: $E/" long.yaml > lE.yaml
ok "resume the stopped run to $E epochs" hgq-train -q -c lE.yaml --resume int.hgqm -o rE.hgqm
ok "$E epochs straight" hgq-train -q -c lE.yaml -o sE.hgqm
same "resume after an interruption equals the straight run" rE.hgqm sE.hgqm
done_testing
