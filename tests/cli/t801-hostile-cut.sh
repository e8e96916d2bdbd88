#!/bin/sh
# Half-written and damaged models: a model cut at every boundary of its
# layout (header fields, chunk table entries, header checksum, padding,
# the first, second, last byte of every chunk) and at a sample of other
# offsets, and a model with a flipped byte at the start, middle and end
# of every region: every program exits 1 with one line naming the file,
# and leaves no output.  The offsets come from the chunk table of the
# golden files (formats/hgqm.md section 3).
. "$TESTS_DIR/lib.sh"
. "$TESTS_DIR/lib-hostile.sh"

EX=$ROOT/formats/examples

reader_setup
set -- $progs
n_progs=$#

# layout FILE: "cut OFFSET WHERE" and "flip OFFSET NEWBYTE(octal) WHERE"
# lines for FILE, from its header and chunk table
layout() {
	od -An -tu1 -v "$1" | awk -v sample=97 '
	{ for (k = 1; k <= NF; k++) b[size++] = $k }
	function le32(p) { return b[p] + 256 * (b[p+1] + 256 * (b[p+2] + 256 * b[p+3])) }
	function cut(at, what) { if (at > 0 && at < size && !(at in done)) {
		done[at] = 1; print "cut", at, what } }
	function flip(at, x, what) { printf "flip %d %o %s\n", at, xor(b[at], x), what }
	function xor(a, x,   r, bit) { r = 0; for (bit = 1; bit < 256; bit *= 2) {
		if ((int(a / bit) % 2) != (int(x / bit) % 2)) r += bit }; return r }
	function region(lo, hi, what) { flip(lo, 1, what); flip(int((lo + hi) / 2), 128, what);
		flip(hi - 1, 255, what) }
	END {
		hlen = le32(8); n = le32(12); t = hlen + 32 * n
		for (k = 1; k <= 4; k++) cut(k, "magic")
		cut(6, "version"); cut(8, "version"); cut(12, "header_len"); cut(16, "header")
		for (j = 1; j <= n; j++) cut(hlen + 32 * j - 16, "toc-entry-" j)
		for (j = 1; j < n; j++) cut(hlen + 32 * j, "toc-entry-" j + 1)
		cut(t + 2, "header-crc"); cut(t + 4, "padding")
		region(0, 16, "header"); region(16, t, "toc"); region(t, t + 4, "header-crc")
		for (j = 0; j < n; j++) {
			e = hlen + 32 * j; off = le32(e + 8); len = le32(e + 16)
			id = sprintf("%c%c%c%c", b[e], b[e+1], b[e+2], b[e+3])
			if (j == 0 && off > t + 4) region(t + 4, off, "padding")
			cut(off, id); cut(off + 1, id); cut(off + 2, id)
			cut(off + len - 1, id); cut(off + len, id)
			region(off, off + len, id)
		}
		for (at = sample; at < size; at += sample) cut(at, "sample")
	}'
}

turn=0
for f in tiny-train.hgqm tiny-deflate.hgqm; do
	layout "$EX/$f" > layout.txt
	check "$f: a layout was found" grep -q '^cut .* FIXP$' layout.txt
	while read -r kind at val where; do
		set -- $progs
		shift $((turn % n_progs))
		p=$1
		turn=$((turn + 1))
		if [ "$kind" = cut ]; then
			head -c "$at" "$EX/$f" > cut.hgqm
			want_name=cut.hgqm want_msg='*truncated*'
			refuses "$p" "$f cut at $at ($val)" read_model "$p" cut.hgqm
		else
			cp "$EX/$f" flip.hgqm
			# shellcheck disable=SC2059
			printf "\\$val" | dd of=flip.hgqm bs=1 seek="$at" conv=notrunc 2>/dev/null
			want_name=flip.hgqm want_msg=
			refuses "$p" "$f byte $at flipped ($where)" read_model "$p" flip.hgqm
		fi
	done < layout.txt
done

# a cut model on a pipe, as from a job that died mid-write
want_name="standard input" want_msg='*truncated in chunk TRNS*'
refuses hgq-ebops "a cut model on a pipe" sh -c "head -c 1000 '$EX/tiny-train.hgqm' | hgq-ebops"
done_testing
