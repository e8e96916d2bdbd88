#!/bin/sh
# uniform8.sh - the EBOPs of a network at uniform 8-bit weights and
# inputs: 64 times every multiplication of its dense and convolution
# layers, zero weights included, on standard output.
#
# usage: uniform8.sh [DUMP.json]
#
# DUMP.json (standard input when absent) is `hgq-ebops --dump` of the
# model.  A dense layer multiplies input_shape's last axis by every
# element of its output; a convolution every input channel by every
# filter at every output position and kernel tap, the taps that fall in
# the zero padding of "same" excepted (TensorFlow's padding: the smaller
# half before).  For a chain of dense layers this is 64 x the weights;
# for a convolution it is far more than 64 x its kernel, since each
# weight is used at every position.
#
# Exit status 0 on success, 1 when the dump has no such layer, 2 on a
# usage error.
set -eu

[ $# -le 1 ] || { echo "usage: uniform8.sh [DUMP.json]" >&2; exit 2; }

# the layer-level keys of a dump sit at six spaces of indentation
awk '
function nums(s, a,   n) {
	sub(/^[^[]*\[/, "", s); sub(/\].*$/, "", s)
	gsub(/ /, "", s)
	return split(s, a, ",")
}
# the taps of one axis that read the input, over every output position
function taps(in_n, out_n, k, s, same,   pb, need, o, t, p, c) {
	pb = 0
	if (same) {
		need = (out_n - 1) * s + k
		pb = need > in_n ? int((need - in_n) / 2) : 0
	}
	c = 0
	for (o = 0; o < out_n; o++)
		for (t = 0; t < k; t++) {
			p = o * s + t - pb
			if (p >= 0 && p < in_n)
				c++
		}
	return c
}
function flush(   r, m, d, n_out, cin) {
	if (kind == "dense") {
		r = nums(ishape, ia)
		n = nums(oshape, oa)
		n_out = 1
		for (d = 1; d <= n; d++)
			n_out *= oa[d]
		total += ia[r] * n_out
		found = 1
	} else if (kind == "conv1d" || kind == "conv2d") {
		r = nums(ishape, ia)
		nums(oshape, oa)
		nums(kern, ka)
		nums(strd, sa)
		m = ia[r] * oa[r]
		for (d = 1; d < r; d++)
			m *= taps(ia[d], oa[d], ka[d], sa[d], pad == "same")
		total += m
		found = 1
	}
	kind = ""
}
/^      "kind": / {
	flush()
	kind = $0; sub(/^[^:]*: *"/, "", kind); sub(/".*/, "", kind)
	ishape = oshape = kern = strd = pad = ""
	next
}
/^      "input_shape": / { ishape = $0 }
/^      "shape": / { oshape = $0 }
/^      "kernel": / { kern = $0 }
/^      "stride": / { strd = $0 }
/^      "padding": / { pad = $0; sub(/^[^:]*: *"/, "", pad); sub(/".*/, "", pad) }
END {
	flush()
	if (!found) {
		print "uniform8.sh: no dense or convolution layer in the dump" > "/dev/stderr"
		exit 1
	}
	printf "%.0f\n", 64 * total
}' "${1:--}"
