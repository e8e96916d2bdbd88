#!/bin/sh
# hgq-sim on convolutional models: exact outputs known in advance (the
# golden conv models and two seeded fixtures, whose outputs were computed
# once by an independent rational re-implementation, see tests/data/
# README), reports, comparison, and the packed port vectors in
# channels-last order.
. "$TESTS_DIR/lib.sh"

EX=$ROOT/formats/examples
D=$ROOT/tests/data

# the golden models' outputs do not depend on these inputs: conv2d's are
# 0 (both output elements have width <= 0), conv1d's 0.0625
mkdata --seed 1 --lo -3 --hi 3 50 16 x16.npy
mkdata --seed 1 --lo -300 --hi 300 50 12 x12.npy
ok "conv2d.hgqm runs" hgq-sim -i x16.npy -o g2.tsv "$EX/conv2d.hgqm"
check "conv2d.hgqm: every output is 0" sh -c \
    "[ \"\$(tail -n +2 g2.tsv | sort -u)\" = \"\$(printf '0\t0')\" ]"
ok "conv1d.hgqm runs" hgq-sim -i x12.npy -o g1.tsv "$EX/conv1d.hgqm"
check "conv1d.hgqm: every output is 0.0625" sh -c \
    "[ \"\$(tail -n +2 g1.tsv | sort -u)\" = 0.0625 ]"

mkfixture --seed 11 --max-width 12 \
    --arch in:5x5x2,conv2d:3:3x3:2x2:same,avgpool:2x2,flatten,dense:3 \
    -o c2.hgqm
mkfixture --seed 22 --max-width 12 \
    --arch in:10x3,conv1d:4:3:1:same,maxpool:2,flatten,dense:2 -o c1.hgqm
ok "conv2d, same padding, stride 2, avgpool" \
    hgq-sim -i "$D/sim-conv2d-x.csv" -o c2.tsv c2.hgqm
same "conv2d: the exact outputs" c2.tsv "$D/sim-conv2d.ok"
ok "conv1d, same padding, maxpool" \
    hgq-sim -i "$D/sim-conv1d-x.csv" -o c1.tsv c1.hgqm
same "conv1d: the exact outputs" c1.tsv "$D/sim-conv1d.ok"
ok "two threads" sh -c "hgq-sim -t 2 -i '$D/sim-conv1d-x.csv' c1.hgqm > t.tsv"
same "the same outputs" t.tsv "$D/sim-conv1d.ok"
ok "--compare: equal" hgq-sim -i "$D/sim-conv2d-x.csv" \
    --compare "$D/sim-conv2d.ok" c2.hgqm
awk 'NR == 5 { $1 = $1 + 1 } { print }' OFS='\t' "$D/sim-conv2d.ok" > bad.tsv
must_fail 1 "--compare: a changed row" hgq-sim -i "$D/sim-conv2d-x.csv" \
    --compare bad.tsv c2.hgqm
check "the differing row is named" grep -q "row 3 differs" .err
ok "--report json" hgq-sim -i "$D/sim-conv2d-x.csv" --report json c2.hgqm
check "one entry per quantizer" sh -c \
    "grep -o '\"layer\": [0-9]*' .out | tr '\n' ' ' | grep -qx '\"layer\": 0 \"layer\": 2 \"layer\": 4 \"layer\": 6 \"layer\": 8 '"
ok "--vectors" hgq-sim -i "$D/sim-conv1d-x.csv" --vectors v.txt -o /dev/null \
    c1.hgqm
same "the packed vectors, channels last" v.txt "$D/sim-conv1d-vec.ok"
ok "npy output" hgq-sim -i "$D/sim-conv1d-x.csv" -o v.npy c1.hgqm
ok "the npy compares equal" hgq-sim -i "$D/sim-conv1d-x.csv" \
    --compare v.npy c1.hgqm
done_testing
