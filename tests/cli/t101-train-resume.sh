#!/bin/sh
# hgq-train: --resume continues a run exactly, after a finished run and
# after an interruption (SIGTERM, handled like Ctrl-C).
. "$TESTS_DIR/lib.sh"

awk 'BEGIN { srand(11); for (r = 0; r < 2000; r++) {
	s = 0; line = ""
	for (k = 0; k < 6; k++) {
		v = int((rand() * 2 - 1) * 32) / 32
		s += v * (k - 2.5)
		line = line v ","
	}
	print line (s > 0.5 ? 0 : s > -0.5 ? 1 : 2)
} }' > d.csv

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

# a long run, stopped from outside once it is under way
sed 's/epochs: 8/epochs: 400/' cfg.yaml > long.yaml
echo "output: { log: long.tsv }" >> long.yaml
hgq-train -c long.yaml -o int.hgqm 2> int.err &
pid=$!
i=0
while [ "$i" -lt 400 ] && [ "$(cat long.tsv 2>/dev/null | wc -l)" -lt 3 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -TERM "$pid"
wait "$pid"
st=$?
check "stopped: exit 1 ($st)" test "$st" -eq 1
check "says it was interrupted" grep -q "^hgq-train: interrupted" int.err
check "the model so far was written" test -s int.hgqm
check "no temporary file" sh -c '! ls int.hgqm.tmp.* 2>/dev/null'
sed 's/epochs: 400/epochs: 12/' long.yaml > l12.yaml
ok "resume the stopped run to 12 epochs" hgq-train -q -c l12.yaml --resume int.hgqm -o r12.hgqm
ok "12 epochs straight" hgq-train -q -c l12.yaml -o s12.hgqm
same "resume after an interruption equals the straight run" r12.hgqm s12.hgqm
done_testing
