#!/bin/sh
# plot-fig3.sh - the figure of `make fig3` (mk/fig3.mk), as PNG and SVG
# through gnuplot: on the left, Yosys LUTs against exact EBOPs for the
# adder-graph and the behavioral Verilog, both axes logarithmic, with
# their fits LUT = a * EBOPs^b; on the right, the distribution of the
# relative error (estimate / Yosys - 1) of the LUT estimates of the
# adder graphs: the fit's (hgq-ebops) and the emitter's.
#
# usage: plot-fig3.sh -o PREFIX LUT.tsv FIT.tsv
#
#   LUT.tsv   columns ebops, lut_adders, lut_behavioral, lut_est_emitter,
#             lut_est_ebops (named on its first line, "#id\t...")
#   FIT.tsv   rows "adders" and "behavioral": name n a b r2 ...
#
# Exit status 0 on success, 1 on failure, 2 on a usage error.
set -u

usage() {
	echo "usage: plot-fig3.sh -o PREFIX LUT.tsv FIT.tsv" >&2
	exit 2
}
die() {
	echo "plot-fig3.sh: $*" >&2
	exit 1
}

prefix=""
while getopts o: opt; do
	case $opt in
	o) prefix=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] && [ -n "$prefix" ] || usage
lut=$1 fit=$2
[ -r "$lut" ] || die "cannot read '$lut'"
[ -r "$fit" ] || die "cannot read '$fit'"
command -v gnuplot >/dev/null 2>&1 || die "gnuplot is not installed"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# pts.dat: ebops lut_adders lut_behavioral; err.dat: emitter and fit
# errors in %, one model a line
awk -F '\t' -v dir="$tmp" '
	NR == 1 { sub(/^#/, ""); for (c = 1; c <= NF; c++) col[$c] = c; next }
	/^#/ { next }
	{
		e = $col["ebops"]; a = $col["lut_adders"]
		printf "%s %s %s\n", e, a, $col["lut_behavioral"] > (dir "/pts.dat")
		printf "%.3f %.3f\n", 100 * ($col["lut_est_ebops"] / a - 1),
		    100 * ($col["lut_est_emitter"] / a - 1) > (dir "/err.dat")
	}' "$lut" || die "cannot read the table '$lut'"
[ -s "$tmp/pts.dat" ] || die "no models in '$lut'"
fa=$(awk -F '\t' '$1 == "adders" { print $3, $4, $5 }' "$fit")
fb=$(awk -F '\t' '$1 == "behavioral" { print $3, $4, $5 }' "$fit")
[ -n "$fa" ] && [ -n "$fb" ] || die "'$fit' lacks the adders or behavioral fit"
set -- $fa $fb

{
	printf 'set encoding utf8\nset multiplot layout 1,2 title "LUTs against EBOPs: Yosys synth_xilinx of hgq-emit-verilog designs (Fashion-MNIST)" noenhanced\n'
	printf 'set logscale xy\nset grid xtics ytics mxtics mytics lc rgb "#dddddd"\n'
	printf 'set xlabel "EBOPs (exact)"\nset ylabel "LUTs (Yosys)"\n'
	printf 'set key top left box opaque\nset format x "%%.0s%%c"\nset format y "%%.0s%%c"\n'
	printf 'set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n'
	printf 'fa(x) = %s * x**%s\nfb(x) = %s * x**%s\n' "$1" "$2" "$4" "$5"
	printf 'plot "%s/pts.dat" using 1:2 with points pt 7 ps 1.2 lc rgb "#1f77b4" title "adder graph", \\\n' "$tmp"
	printf '  fa(x) with lines lw 2 lc rgb "#1f77b4" title sprintf("%%.3g EBOPs^{%%.3f}, R^2 = %%.3f", %s, %s, %s), \\\n' "$1" "$2" "$3"
	printf '  "%s/pts.dat" using 1:3 with points pt 5 ps 1.1 lc rgb "#d62728" title "behavioral (*)", \\\n' "$tmp"
	printf '  fb(x) with lines lw 2 lc rgb "#d62728" title sprintf("%%.3g EBOPs^{%%.3f}, R^2 = %%.3f", %s, %s, %s)\n' "$4" "$5" "$6"
	printf 'unset logscale xy\nset format x "%%g"\nset format y "%%g"\n'
	printf 'set xlabel "error of the LUT estimate against Yosys (%%)"\nset ylabel "models"\n'
	printf 'set style fill solid 0.5 border\nset boxwidth 0.9\nset key top right\nset yrange [0:*]\nset ytics 1\n'
	printf 'bin(x) = 2 * floor(x / 2) + 1\n'
	printf 'plot "%s/err.dat" using (bin($1) - 0.45):(1.0) smooth frequency with boxes lc rgb "#1f77b4" title "hgq-ebops (fit of EBOPs)", \\\n' "$tmp"
	printf '  "%s/err.dat" using (bin($2) + 0.45):(1.0) smooth frequency with boxes lc rgb "#2ca02c" title "hgq-emit-verilog (adders)"\n' "$tmp"
	printf 'unset multiplot\n'
} > "$tmp/plot.gp"

for fmt in png svg; do
	case $fmt in
	png) term='pngcairo size 1280,560 font "sans,11"' ;;
	svg) term='svg size 1280,560 dynamic font "sans,11"' ;;
	esac
	if [ "$fmt" = png ] && ! gnuplot -e 'set terminal pngcairo' \
	    >/dev/null 2>&1; then
		term='png size 1280,560'
	fi
	{ printf 'set terminal %s\nset output "%s.%s.tmp"\n' "$term" \
	    "$prefix" "$fmt"; cat "$tmp/plot.gp"; } > "$tmp/$fmt.gp"
	gnuplot "$tmp/$fmt.gp" 2>"$tmp/err" || {
		rm -f "$prefix.$fmt.tmp"
		cat "$tmp/err" >&2
		die "gnuplot failed"
	}
	mv "$prefix.$fmt.tmp" "$prefix.$fmt" || exit 1
done
