#!/bin/sh
# hgq-ebops on convolutional models: one row per operation, named by
# kind; the golden conv models by hand from their .json: conv2d's two
# outputs have width <= 0 (1-1-1 and 0+0+0), so nothing is live and the
# EBOPs are 0; in conv1d the only live multiplication is dense input 0
# (layer 6 element 0: width 1-2+2 = 1) times weight 2 (span 1), 1 EBOP:
# its source, layer 4 element 0, has width 0+1-1 = 0, and the dense
# layer's other inputs have weight 0 or width 0, so nothing before the
# flatten is live.
. "$TESTS_DIR/lib.sh"

EX=$ROOT/formats/examples

ok "conv2d: --json" hgq-ebops --json "$EX/conv2d.hgqm"
check "conv2d: total 0" grep -q '"total_ebops": 0,' .out
check "conv2d: the rows by kind" sh -c "grep -o '\"name\": \"[a-z0-9_]*\"' .out | tr '\n' ' ' | grep -qx '\"name\": \"conv2d_1\" \"name\": \"maxpool_1\" \"name\": \"flatten_1\" \"name\": \"dense_1\" '"
check "conv2d: the kernel's 18 weights" grep -q '"name": "conv2d_1", "index": 1, "n_in": 16, "n_out": 8, "ebops": 0, "weights": 18,' .out
ok "conv1d: --json" hgq-ebops --json "$EX/conv1d.hgqm"
check "conv1d: total 1" grep -q '"total_ebops": 1,' .out
check "conv1d: the dense layer holds it" grep -q '"name": "dense_1", "index": 7, "n_in": 4, "n_out": 1, "ebops": 1,' .out
check "conv1d: multiplications of the conv" grep -q '"kind": "conv1d", "multiplications": 0}' .out
ok "conv1d: TSV" hgq-ebops --tsv "$EX/conv1d.hgqm"
check "a header and 4 rows" test "$(wc -l < .out)" -eq 5
check "the avgpool row" grep -q '^avgpool_1	3	6	4	0	0	0	0	' .out
ok "conv1d: text" hgq-ebops "$EX/conv1d.hgqm"
check "the total line" grep -q "^total " .out
check "a histogram row per operation" grep -q '^flatten_1 ' .out
done_testing
