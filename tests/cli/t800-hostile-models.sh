#!/bin/sh
# Hostile models: every program that reads a model refuses a missing
# file, a directory, an empty file, a wrong magic, an unknown major
# version and the hand-made lying files of tests/data (see its README)
# with exit 1 and one line "prog: ..." naming the file and the problem,
# refuses before allocating what a lying count asks for, and leaves no
# output file (a previous one stays as it was).
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/lib-hostile.sh"

D=$ROOT/tests/data
EX=$ROOT/formats/examples

reader_setup
: > empty.hgqm

# a good model for each (hgq-train resumes only a run of its config)
mkfixture --seed 5 --shape 2,3,2 -o good.hgqm
hgq-train -q -c cfg.yaml -o good-train.hgqm 2>/dev/null

# the same five refusals from every program
for p in $progs; do
	good=good.hgqm
	[ "$p" = hgq-train ] && good="good-train.hgqm"
	ok "$p: a good model reads" read_model "$p" "$good"
	rm -f out.*
	want_name=nothere.hgqm want_msg='*No such file*'
	refuses "$p" "a missing file" read_model "$p" nothere.hgqm
	want_name=$D want_msg='*Is a directory*'
	refuses "$p" "a directory" read_model "$p" "$D"
	want_name=empty.hgqm want_msg='*empty input*'
	refuses "$p" "an empty file" read_model "$p" empty.hgqm
	want_name=$D/hostile-magic.hgqm want_msg='*bad magic*'
	refuses "$p" "a wrong magic" read_model "$p" "$D/hostile-magic.hgqm"
	want_name=$D/hostile-major2.hgqm want_msg='*major version 2*'
	refuses "$p" "major version 2" read_model "$p" "$D/hostile-major2.hgqm"
done

# The lying files (a "?" in a message stands for a bracket, which the
# shell pattern would read as a class).  The reader is one library function, so every file
# goes through hgq-ebops (under a 256 MiB address-space limit where the
# build allows one: a count believed before it is checked fails there
# with "out of memory" instead of the message wanted), and every third
# one through another program in turn, for the plumbing of each.
limit=
if (ulimit -v 262144 && hgq-ebops --version) >/dev/null 2>&1; then
	limit=262144		# not under ASan, which reserves terabytes
fi
limited() {
	if [ -n "$limit" ]; then
		(ulimit -v "$limit" && exec "$@")
	else
		"$@"
	fi
}
set -- $progs
shift				# hgq-ebops comes first
others="$*"
turn=0
while IFS='|' read -r file msg; do
	[ -n "$file" ] || continue
	want_name=$D/$file want_msg="*$msg*"
	refuses hgq-ebops "$file" limited hgq-ebops "$D/$file"
	set -- $others
	if [ $# -gt 0 ] && [ $((turn % 3)) -eq 0 ]; then
		shift $((turn / 3 % $#))
		refuses "$1" "$file" read_model "$1" "$D/$file"
	fi
	turn=$((turn + 1))
done <<'EOF'
hostile-magic.hgqm|not an hgq model (bad magic)
hostile-major2.hgqm|unsupported major version 2
hostile-hlen.hgqm|header length 4294967288
hostile-nchunks.hgqm|4294967295 chunks exceed the limit 64
hostile-header-crc.hgqm|header checksum mismatch (stored 0x12345678
hostile-toc-1tib.hgqm|chunk INPT: length 1099511627776 exceeds the limit
hostile-toc-2gib.hgqm|truncated in chunk FIXP (at byte 152 of 2147483648)
hostile-toc-offset.hgqm|chunk GRPH: offset 1125899906842624 where 144
hostile-unknown-required.hgqm|unknown required chunk ZZZZ
hostile-duplicate.hgqm|chunk GRPH appears twice
hostile-no-grph.hgqm|required chunk GRPH is missing
hostile-order.hgqm|chunk INPT: out of order
hostile-inpt-nraw.hgqm|chunk INPT: 4294967295 raw columns
hostile-inpt-nmap.hgqm|chunk INPT: the index map needs 67108864 bytes
hostile-grph-layers.hgqm|chunk GRPH: 4294967295 layers exceed
hostile-grph-shape.hgqm|shape 16777216x16777216 exceeds the limits
hostile-grph-kind.hgqm|layer 1 has unsupported kind 3
hostile-fixp-weights.hgqm|chunk FIXP: weight mantissas needs 268435456 bytes
hostile-calb-count.hgqm|chunk CALB: 4294967295 entries
hostile-trns-count.hgqm|chunk TRNS: 4294967295 tensors exceed
hostile-trns-tensor.hgqm|chunk TRNS: tensor data needs 268435456 bytes
hostile-meta-value.hgqm|value of 4294967295 bytes: outside the limits
hostile-meta-16mib.hgqm|chunk META: a value needs 16777216 bytes
hostile-deflate-1tib.hgqm|chunk FIXP: uncompressed length 1099511627776
hostile-deflate-garbage.hgqm|chunk FIXP: bad deflate stream
hostile-deflate-short.hgqm|chunk FIXP: bad deflate stream
hostile-width33.hgqm|layer 4 element 0: width 33 exceeds 32
hostile-i63.hgqm|layer 0 element 0: i = 63
hostile-weight-f63.hgqm|layer 1 weight 0: f = 63 beyond
hostile-k2.hgqm|k = 2 is not 0 or 1
hostile-index-map.hgqm|index map entry 1 = 0 is not above
hostile-round-mode.hgqm|quantizer mode out of range (round 7
hostile-trailing.hgqm|chunk INPT: 8 unexpected bytes after the last field
hostile-norm-nan.hgqm|normalisation scale of column 1 is not finite
hostile-after-last.hgqm|unexpected bytes after the last chunk
hostile-hlen24-minor0.hgqm|header length 24 in a version 1.0 file
hostile-hlen24-minor1.hgqm|header length 24 in a version 1.1 file
hostile-hlen24-minor2.hgqm|header length 24 in a version 1.2 file
hostile-calb-nan.hgqm|layer 0 element 0: calibration range [[]nan, 3.5] is not finite and ordered (CALB)
hostile-calb-inverted.hgqm|layer 0 element 1: calibration range [[]5, 4.25] is not finite and ordered (CALB)
hostile-trns-lr-nan.hgqm|training lr_scale nan is not finite and positive (TRNS)
hostile-trns-progress.hgqm|training progress (epoch 14, step 2954, rng, lr_scale 1) without has_state (TRNS)
hostile-trns-moment.hgqm|layer 1: tensor role 0x101 (an optimizer moment) without tensor role 0x1 (TRNS)
hostile-norm-scale-offset.hgqm|normalisation scale with offset 0.5 in column 1 (INPT
hostile-conv-zero-dim.hgqm|chunk GRPH: layer 1: shape ?2, 0, 2? has a zero dimension
hostile-conv-huge-dims.hgqm|chunk GRPH: layer 1: shape ?16777216, 16777216, 2? has a zero dimension or more than 16777216 elements
hostile-conv-kernel.hgqm|chunk GRPH: layer 1: conv2d kernel 5x5 is larger than its input 4x4
hostile-conv-stride.hgqm|chunk GRPH: layer 1: conv2d kernel 3x3, stride 0x1: each must be in 1..16777216
hostile-conv-out-shape.hgqm|chunk GRPH: layer 1: conv2d output shape ?1, 4, 2? where its input implies ?2, 2, 2?
hostile-conv-quant-shape.hgqm|chunk GRPH: layer 2: quantizer shape ?2, 1, 4? differs from the shape ?2, 2, 2? of layer 1
hostile-conv-weights.hgqm|chunk GRPH: layer 1: 281474976710656 weights exceed the limit 67108864
hostile-conv-work.hgqm|chunk GRPH: layer 1: conv2d of ?1, 16384, 64? -> ?1, 16384, 512? with kernel 1x1 exceeds the limit of 67108864 multiplications
hostile-conv-forward-ref.hgqm|chunk GRPH: layer 2: input reference 5 is not an earlier layer
hostile-conv-input-ref.hgqm|chunk GRPH: layer 2: reads model input 0 (only layer 0
hostile-conv-alternation.hgqm|chunk GRPH: layer 2: quantizer reads quantizer layer 0
hostile-conv-rank.hgqm|chunk GRPH: layer 1: rank 7 outside 1..3
hostile-conv-ninputs.hgqm|chunk GRPH: layer 1: 4294967295 inputs outside 1..8
hostile-conv-plen.hgqm|chunk GRPH: layer 0: parameter length 48 (expected 56)
hostile-avgpool-area.hgqm|chunk GRPH: layer 3: average pooling over 1x3 = 3 elements: only areas that are powers of two
hostile-g-forward-ref.hgqm|chunk GRPH: layer 3: input reference 4 is not an earlier layer
hostile-g-dangling-ref.hgqm|chunk GRPH: layer 9: input reference 99 is not an earlier layer
hostile-g-input-to-op.hgqm|chunk GRPH: layer 2: a dense layer reads model input 0 (only a quantizer does)
hostile-g-two-readers.hgqm|chunk GRPH: layer 6: add output read by 2 layers (an operation feeds one quantizer)
hostile-g-unused.hgqm|chunk GRPH: layer 9: its output is not used
hostile-g-dup-name.hgqm|chunk GRPH: model outputs 0 and 1 are both named sum
hostile-g-bad-name.hgqm|chunk GRPH: model input 1: name "2b" is not [[]A-Za-z_][[]A-Za-z0-9_]* of 1..32 bytes
hostile-g-port-layer.hgqm|chunk GRPH: model output y: layer 99 does not exist (12 layers)
hostile-g-bad-func.hgqm|chunk GRPH: layer 8: unknown lookup-table function 9 (0..4: tanh, sigmoid, softplus, silu, exp)
hostile-g-lut-width.hgqm|invalid model: layer 8: tanh table over element 0 of 13 bits (the limit is 12 bits, 4096 entries)
hostile-g-mask-value.hgqm|invalid model: layer 2: mask element 0 is 0.5, not 0 or 1
hostile-g-mask-weight.hgqm|invalid model: layer 2: weight 1 is masked but its mantissa is 3
hostile-g-add-shape.hgqm|chunk GRPH: layer 6: add of shape ?2? has input 1 of shape ?1? (the shapes must be equal)
hostile-g-sub3.hgqm|chunk GRPH: layer 6: a subtract layer reads two inputs, not 3
hostile-g-concat-axis.hgqm|chunk GRPH: layer 10: concatenate along axis 1 of a rank-1 tensor
hostile-g-concat-dims.hgqm|chunk GRPH: layer 10: concatenate inputs give 4 along axis 0, the output has 5
hostile-g-port-minor1.hgqm|chunk PORT in a version 1.1 file (named inputs and outputs are format 1.2)
hostile-g-classify-2out.hgqm|chunk GRPH: a classifier has one output, not 2
EOF

# an uncalibrated model is no input for the exact tools
mkfixture --seed 2 --shape 2,3,2 --uncalibrated -o raw.hgqm
want_name=raw.hgqm want_msg='*calibrated*'
for p in $progs; do
	[ "$p" = hgq-train ] && continue	# it resumes from float state
	refuses "$p" "an uncalibrated model" read_model "$p" raw.hgqm
done

# a failed run keeps the previous output file as it was
want_name='' want_msg=''
cp "$EX/tiny.hgqm" prev.hgqm
cp prev.hgqm keep.hgqm
for p in $progs; do
	case $p in
	hgq-prune) cmd="hgq-prune -o prev.hgqm" ;;
	hgq-sim) cmd="hgq-sim -i x.npy -o prev.hgqm" ;;
	hgq-emit-verilog) cmd="hgq-emit-verilog -o prev.hgqm" ;;
	hgq-train) cmd="hgq-train -q -c cfg.yaml -o prev.hgqm --resume" ;;
	*) continue ;;
	esac
	refuses "$p" "-o over an existing file, bad model" $cmd "$D/hostile-toc-2gib.hgqm"
	same "$p: the previous file is intact" prev.hgqm keep.hgqm
done

# stdin: the message says "standard input"
want_name="standard input" want_msg='*truncated*'
head -c 300 "$EX/tiny.hgqm" > cut.hgqm
for p in hgq-ebops hgq-prune; do
	refuses "$p" "a truncated model on stdin" sh -c "$p < cut.hgqm"
	refuses "$p" "a truncated model as -" sh -c "$p - < cut.hgqm"
done
done_testing
