#!/bin/sh
# hgq-train on convolutional networks (generated data, a few steps):
# a tiny conv2d model (deterministic, resumes exactly, its exact
# evaluation run by hgq-sim), the SVHN architecture of issue 12 and a
# Conv1D network on [50, 3]; shapes that do not fit are config errors at
# their layer, "FILE:LINE:COL: ...", leaving no output file.
. "$TESTS_DIR/lib.sh"

mkdata --seed 3 120 64 x64.npy
mkdata --seed 4 --int --lo 0 --hi 3 120 0 y3.npy
cat > tiny.yaml <<EOF2
seed: 5
data: { train_x: x64.npy, train_y: y3.npy, input_shape: [8, 8, 1],
        val_split: 0.25 }
model:
  layers:
  - { type: conv2d, filters: 3, kernel: 3, activation: relu }
  - { type: maxpool2d, pool: 2 }
  - { type: conv2d, filters: 4, kernel: [2, 2], padding: same,
      batchnorm: true, activation: relu }
  - { type: avgpool2d, pool: 2 }
  - { type: flatten }
  - { type: dense, units: 3 }
quantizers: { activation: { granularity: channel } }
train: { epochs: 2, batch_size: 30, threads: 2, beta: 1.0e-5 }
EOF2
ok "a tiny conv2d model trains" hgq-train -q -c tiny.yaml -o a.hgqm
ok "again" hgq-train -q -c tiny.yaml -o b.hgqm
same "the same bytes" a.hgqm b.hgqm
ok "one epoch" hgq-train -q -c tiny.yaml --epochs 1 -o e1.hgqm
ok "resumed to two" hgq-train -q -c tiny.yaml --resume e1.hgqm -o e2.hgqm
same "resuming gives the uninterrupted run" e2.hgqm a.hgqm
ok "hgq-ebops --dump" sh -c "hgq-ebops --dump a.hgqm > a.json"
check "format 1.1 with the layers" grep -q '"kind": "conv2d"' a.json
check "an identity quantizer after the max pool" \
    grep -q '"trainable": false' a.json
ok "hgq-sim runs the model" hgq-sim -t 1 -i x64.npy -o out.npy a.hgqm

# the SVHN architecture of the paper, on [32, 32, 3]
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
ok "the SVHN architecture trains" hgq-train -q -c svhn.yaml -o svhn.hgqm
ok "hgq-sim runs it" hgq-sim -t 2 -i x32.npy -o svhn.npy svhn.hgqm

# a Conv1D network on [50, 3]
mkdata --seed 6 80 150 x50.npy
mkdata --seed 7 --int --lo 0 --hi 2 80 0 y2.npy
cat > c1.yaml <<EOF2
data: { train_x: x50.npy, train_y: y2.npy, input_shape: [50, 3],
        val_split: 0.25 }
model:
  layers:
  - { type: conv1d, filters: 4, kernel: 5, stride: 2, activation: relu }
  - { type: maxpool1d, pool: 2 }
  - { type: conv1d, filters: 4, kernel: 3, padding: same,
      activation: relu }
  - { type: avgpool1d, pool: 4 }
  - { type: flatten }
  - { type: dense, units: 8, activation: relu }
  - { type: dense, units: 2 }
train: { epochs: 2, batch_size: 20, threads: 2 }
EOF2
ok "a Conv1D network on [50, 3] trains" hgq-train -q -c c1.yaml -o c1.hgqm
ok "hgq-sim runs it" hgq-sim -t 1 -i x50.npy -o c1.npy c1.hgqm

# use_bias: false keeps a layer's bias at exactly 0 (the other layers
# and the same network with biases learn non-zero ones)
cat > nb.yaml <<EOF2
seed: 3
data: { train_x: x50.npy, train_y: y2.npy, input_shape: [50, 3] }
model:
  layers:
  - { type: conv1d, filters: 4, kernel: 5, stride: 2, activation: relu,
      use_bias: false }
  - { type: flatten }
  - { type: dense, units: 2 }
quantizers: { bias: { init_f: 8 } }
train: { epochs: 3, batch_size: 20, threads: 1,
         optimizer: { name: adam, lr: 0.05 } }
EOF2
sed '/type: conv1d/s/,$/ }/; /use_bias/d' nb.yaml > wb.yaml
ok "use_bias: false trains" hgq-train -q -c nb.yaml -o nb.hgqm
ok "with biases" hgq-train -q -c wb.yaml -o wb.hgqm
hgq-ebops --dump nb.hgqm | grep '"bias_mantissa"' > nb.b
hgq-ebops --dump wb.hgqm | grep '"bias_mantissa"' > wb.b
check "the conv1d bias is 0" sh -c \
    '[ "$(sed -n 1p nb.b)" = "      \"bias_mantissa\": [0, 0, 0, 0]," ]'
check "the dense bias is not" sh -c '! grep -q "\[0, 0\]" nb.b'
check "with biases, the conv1d's is not" sh -c \
    'sed -n 1p wb.b | grep -q "\"bias_mantissa\": \[" &&
    ! sed -n 1p wb.b | grep -q "\[0, 0, 0, 0\]"'

# after a global pool (two layers: the pool and its flatten), the next
# item's use_bias still belongs to that item
cat > gp.yaml <<EOF2
seed: 3
data: { train_x: x50.npy, train_y: y2.npy, input_shape: [50, 3] }
model:
  layers:
  - { type: conv1d, filters: 4, kernel: 3, activation: relu }
  - { type: global_maxpool }
  - { type: dense, units: 4, activation: relu, use_bias: false }
  - { type: dense, units: 2 }
quantizers: { bias: { init_f: 8 } }
train: { epochs: 3, batch_size: 20, threads: 1,
         optimizer: { name: adam, lr: 0.05 } }
EOF2
ok "use_bias: false after a global pool trains" \
    hgq-train -q -c gp.yaml -o gp.hgqm
hgq-ebops --dump gp.hgqm | grep '"bias_mantissa"' > gp.b
check "the dense bias after the pool is 0, the others are not" sh -c \
    '[ "$(sed -n 2p gp.b)" = "      \"bias_mantissa\": [0, 0, 0, 0]," ] &&
    ! sed -n 1p gp.b | grep -q "\[0, 0, 0, 0\]" &&
    ! sed -n 3p gp.b | grep -q "\[0, 0\]"'

# shapes that do not fit: config errors at the layer, no output
bad() {	# bad WHAT LAYER WANT
	cat > bad.yaml <<EOF2
data: { train_x: x64.npy, train_y: y3.npy, input_shape: [8, 8, 1] }
model:
  layers:
  - $2
  - { type: flatten }
  - { type: dense, units: 3 }
EOF2
	rm -f out.hgqm
	must_fail 1 "$1" hgq-train -c bad.yaml -o out.hgqm
	printf 'hgq-train: %s\n' "$3" > want.err
	check "$1: the message" cmp -s want.err .err
	check "$1: no output" test ! -e out.hgqm
}
bad "a kernel larger than its input" \
    "{ type: conv2d, filters: 2, kernel: 9 }" \
    "bad.yaml:4:5: model.layers[0]: kernel 9x9 larger than its input [8, 8, 1]"
bad "a global average pool of 8x8 after a valid 2x2 kernel" \
    "{ type: conv2d, filters: 2, kernel: 2 }
  - { type: global_avgpool }" \
    "bad.yaml:5:5: model.layers[1]: global average pooling over 49 positions of [7, 7, 2]: not a power of two (average pooling divides by an exact shift)"
bad "a pool larger than its input" "{ type: maxpool2d, pool: [2, 9] }" \
    "bad.yaml:4:5: model.layers[0]: pool 2x9 larger than its input [8, 8, 1]"
bad "conv1d on an image" "{ type: conv1d, filters: 2, kernel: 3 }" \
    "bad.yaml:4:5: model.layers[0]: conv1d needs an input of rank 2 ([W, C]), got shape [8, 8, 1]"
bad "use_bias on a pooling layer" \
    "{ type: maxpool2d, pool: 2, use_bias: false }" \
    "bad.yaml:4:33: key 'use_bias' does not apply to a maxpool2d layer in model.layers[0]"
bad "an average pool of area 6" "{ type: avgpool2d, pool: [2, 3] }" \
    "bad.yaml:4:30: avgpool2d: pool area 2x3 = 6 is not a power of two (average pooling divides by an exact shift)"
cat > bad.yaml <<EOF2
data: { train_x: x64.npy, train_y: y3.npy, input_shape: [8, 9, 1] }
model: { layers: [ { type: flatten }, { type: dense, units: 3 } ] }
EOF2
must_fail 1 "an input shape that does not divide the rows" \
    hgq-train -c bad.yaml -o out.hgqm
check "the message" sh -c "[ \"\$(cat .err)\" = \"hgq-train: bad.yaml:1:57: data.input_shape: 72 elements, but the rows of 'x64.npy' have 64\" ]"
done_testing
