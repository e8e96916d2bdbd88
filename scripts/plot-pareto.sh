#!/bin/sh
# plot-pareto.sh - test accuracy against EBOPs, with the Pareto front, as
# PNG and SVG through gnuplot.
#
# usage: plot-pareto.sh [-g COLUMN] [-m NAME] [-t TITLE] [-u EBOPS]
#                       [-y COLUMN] -o PREFIX FILE.tsv
#
#   FILE.tsv   a table whose first line names the columns ("#name\t...");
#              the columns "ebops" and "test_acc" (a fraction) are
#              plotted, rows whose test_acc is not a number are skipped
#   -y COLUMN  the accuracy column [test_acc] (hgq-pareto's: accuracy)
#   -o PREFIX  write PREFIX.png and PREFIX.svg
#   -g COLUMN  one series of points per value of COLUMN (a sweep's
#              beta_max), COLUMN the legend's title; otherwise one series
#   -m NAME    the row whose first column is NAME (the final model) is
#              drawn apart, as a circle labelled NAME
#   -t TITLE   the plot's title
#   -u EBOPS   a vertical line at EBOPS labelled "uniform 8-bit EBOPs"
#              (the cost of the same network at 8-bit weights and inputs)
#
# The front is the rows no other row beats on both axes (at most as many
# EBOPs and at least the accuracy, one of them strictly), drawn as steps.
# The EBOPs axis is logarithmic.  Exit status 0 on success, 1 on failure,
# 2 on a usage error.
set -u

usage() {
	echo "usage: plot-pareto.sh [-g COLUMN] [-m NAME] [-t TITLE] [-u EBOPS]" \
	    "[-y COLUMN] -o PREFIX FILE.tsv" >&2
	exit 2
}
# 3362816 -> 3,362,816
thousands() {
	awk -v x="$1" 'BEGIN { while (x ~ /[0-9][0-9][0-9][0-9]/) \
	    sub(/[0-9][0-9][0-9]($|,)/, ",&", x); print x }'
}
die() {
	echo "plot-pareto.sh: $*" >&2
	exit 1
}

group="" mark="" title="" uniform="" prefix="" acc=test_acc
while getopts g:m:o:t:u:y: opt; do
	case $opt in
	g) group=$OPTARG ;;
	m) mark=$OPTARG ;;
	o) prefix=$OPTARG ;;
	t) title=$OPTARG ;;
	u) uniform=$OPTARG ;;
	y) acc=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
if [ $# -ne 1 ] || [ -z "$prefix" ]; then usage; fi
tsv=$1
[ -r "$tsv" ] || die "cannot read '$tsv'"
command -v gnuplot >/dev/null 2>&1 || die "gnuplot is not installed"
case $uniform in
''|*[!0-9]*) [ -z "$uniform" ] || die "-u wants a number of EBOPs" ;;
esac

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Split the table into what gnuplot draws: pts.dat (one block per group,
# blocks separated by two blank lines), groups.txt (their names, in
# order), front.dat and mark.dat ("ebops accuracy%" per line).
awk -F '\t' -v group="$group" -v mark="$mark" -v dir="$tmp" -v acc="$acc" '
	NR == 1 {
		sub(/^#/, "")
		for (c = 1; c <= NF; c++)
			col[$c] = c
		if (!("ebops" in col) || !(acc in col)) {
			print "no ebops or " acc " column" > "/dev/stderr"
			exit 2
		}
		if (group != "" && !(group in col)) {
			print "no column " group > "/dev/stderr"
			exit 2
		}
		ce = col["ebops"]; ca = col[acc]
		cg = group == "" ? 0 : col[group]
		next
	}
	/^#/ || $ca !~ /^[0-9.]+$/ || $ce !~ /^[0-9]+$/ { next }
	{
		e[++n] = $ce + 0; a[n] = $ca + 0
		if (mark != "" && $1 == mark) {
			printf "%s %.4f\n", $ce, 100 * $ca > (dir "/mark.dat")
			next
		}
		g = cg ? $cg : "models"
		if (!(g in seen)) { seen[g] = 1; order[++n_groups] = g }
		rows[g] = rows[g] sprintf("%s %.4f\n", $ce, 100 * $ca)
	}
	END {
		if (n == 0) {
			print "no rows with EBOPs and an accuracy" > "/dev/stderr"
			exit 1
		}
		if (n_groups == 0) {
			printf "" > (dir "/pts.dat")
			printf "" > (dir "/groups.txt")
		}
		for (i = 1; i <= n_groups; i++) {
			printf "%s%s", (i > 1 ? "\n\n" : ""), rows[order[i]] \
			    > (dir "/pts.dat")
			print order[i] > (dir "/groups.txt")
		}
		# front: by EBOPs up (accuracy down on ties), keep each row
		# more accurate than every cheaper one
		for (i = 1; i <= n; i++)
			idx[i] = i
		for (i = 2; i <= n; i++)
			for (j = i; j > 1; j--) {
				p = idx[j - 1]; q = idx[j]
				if (e[p] > e[q] || (e[p] == e[q] && a[p] < a[q])) {
					idx[j - 1] = q; idx[j] = p
				} else
					break
			}
		best = -1
		for (i = 1; i <= n; i++) {
			k = idx[i]
			if (a[k] > best) {
				printf "%d %.4f\n", e[k], 100 * a[k] > (dir "/front.dat")
				best = a[k]
			}
		}
		printf "%d %d\n", e[idx[1]], e[idx[n]] > (dir "/range.txt")
	}' "$tsv" || die "cannot plot '$tsv'"

read -r emin emax < "$tmp/range.txt"
[ -n "$uniform" ] && [ "$uniform" -gt "$emax" ] && emax=$uniform
[ "$emin" -gt 0 ] || emin=1

# the plot commands, shared by the two terminals
{
	printf 'set encoding utf8\n'
	printf 'set title "%s" noenhanced\n' "$(printf '%s' "$title" | sed 's/"/\\"/g')"
	printf 'set xlabel "EBOPs (exact, log scale)"\n'
	printf 'set ylabel "test accuracy (%%, bit-exact)"\n'
	printf 'set logscale x\n'
	printf 'set xrange [%s:%s]\n' "$(awk -v x="$emin" 'BEGIN { print x / 1.6 }')" \
	    "$(awk -v x="$emax" 'BEGIN { print x * 1.6 }')"
	printf 'set format x "%%.0s%%c"\n'
	printf 'set offsets 0, 0, graph 0.08, graph 0.08\n'
	printf 'set grid xtics ytics mxtics lc rgb "#dddddd"\n'
	printf 'set key bottom right box opaque noenhanced\n'
	[ -n "$group" ] && printf 'set key title "%s"\n' "$group"
	if [ -n "$uniform" ]; then
		printf 'set arrow from %s, graph 0 to %s, graph 1 nohead dt 2 lw 1.5 lc rgb "#aa3333"\n' \
		    "$uniform" "$uniform"
		printf 'set label "uniform 8-bit EBOPs (%s)" at %s, graph 0.5 rotate by 90 center offset character -2, character 0 tc rgb "#aa3333"\n' \
		    "$(thousands "$uniform")" "$uniform"
	fi
	printf 'plot "%s/front.dat" using 1:2 with steps lw 2 lc rgb "#888888" title "Pareto front"' "$tmp"
	i=0
	while read -r g; do
		t=$g
		printf ', \\\n  "%s/pts.dat" index %d using 1:2 with points pt 7 ps 1.2 title "%s"' \
		    "$tmp" "$i" "$(printf '%s' "$t" | sed 's/"/\\"/g')"
		i=$((i + 1))
	done < "$tmp/groups.txt"
	if [ -s "$tmp/mark.dat" ]; then
		printf ', \\\n  "%s/mark.dat" using 1:2 with points pt 6 ps 3 lw 2 lc rgb "black" title "%s"' \
		    "$tmp" "$mark"
	fi
	printf '\n'
} > "$tmp/plot.gp"

for fmt in png svg; do
	case $fmt in
	png) term='pngcairo size 960,640 font "sans,11"' ;;
	svg) term='svg size 960,640 dynamic font "sans,11"' ;;
	esac
	# pngcairo is in every gnuplot Debian builds; fall back to libgd
	if [ "$fmt" = png ] && ! gnuplot -e 'set terminal pngcairo' \
	    >/dev/null 2>&1; then
		term='png size 960,640'
	fi
	{ printf 'set terminal %s\nset termoption noenhanced\nset output "%s.%s.tmp"\n' "$term" \
	    "$prefix" "$fmt"; cat "$tmp/plot.gp"; } > "$tmp/$fmt.gp"
	gnuplot "$tmp/$fmt.gp" 2>"$tmp/err" || {
		rm -f "$prefix.$fmt.tmp"
		cat "$tmp/err" >&2
		die "gnuplot failed on '$tsv'"
	}
	mv "$prefix.$fmt.tmp" "$prefix.$fmt" || exit 1
done
