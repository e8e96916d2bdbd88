# fit-lut.awk - least-squares fit of LUT = a * EBOPs^b on logs, for
# `make fig3` (mk/fig3.mk):
#
#   awk -F '\t' -v x=ebops -v y=lut_adders [-v est=COLUMN] -f fit-lut.awk T.tsv
#
# T.tsv is a table whose first line names its columns ("#name\t...");
# x and y name the two columns fitted (rows where either is not a
# positive number are skipped).  Fits ln y = ln a + b ln x by ordinary
# least squares and prints one TSV row (no header):
#
#   n  a  b  r2  mean_err  median_abs_err  rms_err  max_abs_err
#
# where r2 is the coefficient of determination of the fit on the logs
# and the errors are those of the fitted estimate a*x^b against y,
# relative: a*x^b / y - 1 (mean signed, median and largest absolute,
# root mean square).  With -v est=COLUMN the errors are instead those of
# that column against y (another estimate; a and b are still the fit).
# -v errors=FILE also writes every row's error there (one a line).
# At least 3 points with distinct x are needed; otherwise the message
# goes to stderr and the exit status is 1.

function isnum(s) {
	return s ~ /^[0-9]+([.][0-9]*)?([eE][-+]?[0-9]+)?$/ && s + 0 > 0
}

NR == 1 {
	for (c = 1; c <= NF; c++) {
		h = $c
		sub(/^#/, "", h)
		col[h] = c
	}
	if (!(x in col) || !(y in col) || (est != "" && !(est in col))) {
		print "fit-lut.awk: the table has no column '" \
		    (!(x in col) ? x : !(y in col) ? y : est) "'" > "/dev/stderr"
		bad = 1
		exit 1
	}
	next
}

/^#/ { next }

{
	if (!isnum($col[x]) || !isnum($col[y]))
		next
	if (est != "" && !isnum($col[est]))
		next
	n++
	X[n] = $col[x]
	Y[n] = $col[y]
	E[n] = est != "" ? $col[est] : ""
}

END {
	if (bad)
		exit 1
	for (k = 1; k <= n; k++) {
		lx = log(X[k]); ly = log(Y[k])
		sx += lx; sy += ly
	}
	if (n < 3) {
		print "fit-lut.awk: fewer than 3 points to fit" > "/dev/stderr"
		exit 1
	}
	mx = sx / n; my = sy / n
	for (k = 1; k <= n; k++) {
		dx = log(X[k]) - mx; dy = log(Y[k]) - my
		sxx += dx * dx; sxy += dx * dy; syy += dy * dy
	}
	if (sxx == 0) {
		print "fit-lut.awk: every point has the same " x > "/dev/stderr"
		exit 1
	}
	b = sxy / sxx
	la = my - b * mx
	a = exp(la)
	for (k = 1; k <= n; k++) {
		r = log(Y[k]) - (la + b * log(X[k]))
		sse += r * r
	}
	r2 = syy > 0 ? 1 - sse / syy : 1
	for (k = 1; k <= n; k++) {
		p = est != "" ? E[k] : a * X[k] ^ b
		err[k] = p / Y[k] - 1
		se += err[k]; sq += err[k] * err[k]
		ab[k] = err[k] < 0 ? -err[k] : err[k]
		if (ab[k] > mxe)
			mxe = ab[k]
		if (errors != "")
			printf "%.6f\n", err[k] > errors
	}
	# the median absolute error: insertion sort (a few hundred points)
	for (k = 2; k <= n; k++) {
		v = ab[k]
		for (j = k - 1; j >= 1 && ab[j] > v; j--)
			ab[j + 1] = ab[j]
		ab[j + 1] = v
	}
	med = n % 2 ? ab[(n + 1) / 2] : (ab[n / 2] + ab[n / 2 + 1]) / 2
	printf "%d\t%.6g\t%.6g\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\n", n, a, b, r2,
	    se / n, med, sqrt(sq / n), mxe
}
