#!/bin/sh
# model-metrics.sh - one TSV row of a model's metrics from the JSON
# reports of hgq-ebops --json and hgq-sim --report json:
#
#   ebops <TAB> test_acc <TAB> lut_estimate <TAB> n_test
#
# test_acc is the accuracy as a fraction with 4 decimals (or the mean
# squared error of a regression model, as mse=X).  Used by mk/demo.mk and
# examples/sweep.mk to build their result tables.
#
# usage: model-metrics.sh EBOPS.json SIM.json
#
# Exit status 0 on success, 1 when a report lacks a field, 2 on a usage
# error.
set -u

[ $# -eq 2 ] || { echo "usage: model-metrics.sh EBOPS.json SIM.json" >&2; exit 2; }

# the first number stored under "KEY" in FILE (our reports put the totals
# before the per-layer lists)
jget() {
	grep -o "\"$1\": *[-0-9.eE+]*" "$2" 2>/dev/null | head -n 1 |
	    sed 's/.*: *//'
}

ebops=$(jget total_ebops "$1")
lut=$(jget lut_estimate "$1")
n=$(jget n "$2")
acc=$(jget accuracy "$2")
if [ -z "$acc" ]; then
	acc=$(jget mse "$2")
	[ -n "$acc" ] && acc="mse=$acc"
else
	acc=$(awk -v a="$acc" 'BEGIN { printf "%.4f", a }')
fi
if [ -z "$ebops" ] || [ -z "$lut" ] || [ -z "$n" ] || [ -z "$acc" ]; then
	echo "model-metrics.sh: '$1' or '$2' is not a complete report" >&2
	exit 1
fi
printf '%s\t%s\t%s\t%s\n' "$ebops" "$acc" "$lut" "$n"
