#!/bin/sh
# hgq-train and a killed job: SIGKILL while it trains towards -o MODEL
# leaves the previous MODEL byte for byte and no temporary file (the
# model file is only created once training is over, and written to a
# temporary file renamed into place); SIGINT (Ctrl-C) stops it after the
# current step with a valid, calibrated model that hgq-ebops, hgq-sim and
# hgq-prune read, and exit 1 with a message.
. "$TESTS_DIR/lib.sh"

check "hgq-train is built" sh -c 'command -v hgq-train >/dev/null'
lin3_data 5
cut -d, -f 1-6 d.csv > x.csv
cut -d, -f 7 d.csv > y.csv
cat > short.yaml <<EOF
seed: 3
data: { train_x: d.csv, label_col: 6, val_split: 0.25 }
model:
  layers:
    - { type: dense, units: 12, activation: relu }
    - { type: dense, units: 3 }
train: { epochs: 2, batch_size: 50, threads: 1 }
EOF
sed 's/epochs: 2/epochs: 100000/' short.yaml > long.yaml

ok "a first model" hgq-train -q -c short.yaml -o model.hgqm
cp model.hgqm before.hgqm

# SIGKILL while training towards the same -o
hgq-train -c long.yaml -o model.hgqm 2> kill.err &
pid=$!
wait_for "$pid" kill.err 2 '^hgq-train: epoch'
check "the long run is training" grep -q '^hgq-train: epoch 2/' kill.err
kill -KILL "$pid"
wait "$pid"
st=$?
check "SIGKILL ended it ($st)" test "$st" -eq 137
same "the previous model is intact" model.hgqm before.hgqm
check "no temporary file is left" sh -c '! ls model.hgqm.tmp.* 2>/dev/null'
ok "and it still reads" hgq-ebops model.hgqm

# SIGKILL before anything was written: no file at all
rm -f fresh.hgqm
hgq-train -c long.yaml -o fresh.hgqm 2> kill2.err &
pid=$!
wait_for "$pid" kill2.err 1 '^hgq-train: epoch'
kill -KILL "$pid"
wait "$pid"
check "no model appears" test ! -e fresh.hgqm
check "nor a temporary file" sh -c '! ls fresh.hgqm.tmp.* 2>/dev/null'

# SIGINT as from Ctrl-C (a background job ignores SIGINT unless told
# otherwise: env restores the default, which hgq-train replaces)
if env --default-signal=INT true 2>/dev/null; then
	sig=INT launch="env --default-signal=INT"
else
	sig=TERM launch=	# handled the same way
fi
$launch hgq-train -c long.yaml -o int.hgqm 2> int.err &
pid=$!
wait_for "$pid" int.err 2 '^hgq-train: epoch'
kill -"$sig" "$pid"
wait "$pid"
st=$?
check "SIG$sig: exit 1 ($st)" test "$st" -eq 1
check "SIG$sig: says it was interrupted" grep -q '^hgq-train: interrupted' int.err
check "SIG$sig: the model was written" test -s int.hgqm
check "SIG$sig: no temporary file" sh -c '! ls int.hgqm.tmp.* 2>/dev/null'
ok "the model reads and is calibrated (hgq-ebops)" hgq-ebops int.hgqm
ok "it simulates (hgq-sim)" hgq-sim -t 1 -i x.csv -l y.csv --report json int.hgqm
check "with an accuracy" grep -q '"accuracy": ' .out
ok "it prunes (hgq-prune)" hgq-prune -q -o pruned.hgqm int.hgqm
ok "pruned, it computes the same" sh -c 'hgq-sim -t 1 -i x.csv --raw int.hgqm > a.tsv &&
    hgq-sim -t 1 -i x.csv --raw pruned.hgqm > b.tsv && cmp a.tsv b.tsv'
done_testing
