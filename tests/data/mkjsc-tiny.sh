#!/bin/sh
# mkjsc-tiny.sh - write tests/data/jsc-tiny.csv: 250 made-up jets in the
# layout of the OpenML data set hls4ml_lhc_jets_hlf (16 high-level
# features, then the class as the integer examples/jsc.yaml expects:
# g 0, q 1, w 2, z 3, t 4).  The values are drawn around rough per-class
# means, so that a network can learn something; they are not physics.
# Deterministic for a given awk (srand with a fixed seed; the committed
# file was made with mawk 1.3.4, Debian's awk).
#
# usage: sh tests/data/mkjsc-tiny.sh > tests/data/jsc-tiny.csv
awk 'function gauss(m, s) {
		return m + s * sqrt(-2 * log(1 - rand())) * cos(6.283185307 * rand())
	}
	function pos(x) { return x < 0 ? -x : x }
	BEGIN {
		srand(42)
		print "zlogz,c1_b0_mmdt,c1_b1_mmdt,c1_b2_mmdt,c2_b1_mmdt," \
		    "c2_b2_mmdt,d2_b1_mmdt,d2_b2_mmdt,d2_a1_b1_mmdt," \
		    "d2_a1_b2_mmdt,m2_b1_mmdt,m2_b2_mmdt,n2_b1_mmdt," \
		    "n2_b2_mmdt,mass_mmdt,multiplicity,class"
		split("30 20 80 90 170", mass)
		split("45 28 30 31 55", mult)
		split("0.30 0.22 0.18 0.17 0.25", c1)
		split("2.2 1.6 1.1 1.0 1.5", d2)
		for (r = 0; r < 250; r++) {
			c = r % 5 + 1
			m = pos(gauss(mass[c], 12 + mass[c] / 8))
			printf "%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g," \
			    "%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%d,%d\n",
			    gauss(-2.5 - c / 5, 0.6),
			    pos(gauss(c1[c] + 0.1, 0.05)),
			    pos(gauss(c1[c], 0.05)),
			    pos(gauss(c1[c] / 2, 0.03)),
			    pos(gauss(c1[c] / 3, 0.03)),
			    pos(gauss(c1[c] / 6, 0.02)),
			    pos(gauss(d2[c], 0.5)),
			    pos(gauss(d2[c] * 2, 1.2)),
			    pos(gauss(d2[c] / 2, 0.2)),
			    pos(gauss(d2[c], 0.4)),
			    pos(gauss(c1[c] / 4, 0.02)),
			    pos(gauss(c1[c] / 8, 0.01)),
			    pos(gauss(0.3 + c / 20, 0.08)),
			    pos(gauss(0.2 + c / 40, 0.05)),
			    m, int(pos(gauss(mult[c], 8))) + 1, c - 1
		}
	}'
