#!/bin/sh
# hgq-emit-verilog under Icarus Verilog: 24 random models (random shapes,
# widths from 0 and 1 bit up, negative i, k 0/1, WRAP/SAT/SAT_SYM,
# RND/TRN, ReLU or not), combinational and pipelined, a few in the
# behavioral style, each run on 1,000 vectors whose expected outputs come
# from the engine of hgq-sim: every testbench must print PASS 1000.
. "$TESTS_DIR/lib.sh"

need iverilog vvp

shapes="12,10,6 8,16,4 5,7,7,3 16,8 3,12,9,5 10,10,10 6,20,2 9,5,12,4"
s=0
adders=0
for shape in $shapes $shapes $shapes; do
	s=$((s + 1))
	mw=$((1 + (s * 5) % 14))
	pipe=$((s % 4))			# 0: combinational
	extra=$(( (s % 3) - 1 ))	# -1, 0, 1
	style=adders
	[ $((s % 6)) -eq 0 ] && style=behavioral
	n_in=${shape%%,*}
	mkfixture --seed $((100 + s)) --shape "$shape" --max-width $mw \
	    -o m$s.hgqm
	mkdata --seed $s --lo -12 --hi 12 1000 "$n_in" x$s.npy
	hgq-ebops --dump m$s.hgqm >> dumps.json
	ok "model $s ($shape, width <= $mw, pipeline $pipe, $style): emit" \
	    hgq-emit-verilog --style $style --pipeline $pipe \
	    --max-extra-depth $extra --report json -o n$s.v \
	    --testbench tb$s.v --vectors x$s.npy m$s.hgqm
	a=$(sed 's/^{"adders": \([0-9]*\),.*/\1/' .out)
	adders=$((adders + a))
	ok "model $s: iverilog compiles" iverilog -g2005 -o sim$s tb$s.v n$s.v
	vvp -n sim$s > run$s.txt 2>&1
	check "model $s: PASS 1000" grep -q '^PASS 1000$' run$s.txt
	grep -q '^PASS' run$s.txt || sed 's/^/#   /' run$s.txt | head -n 5
done

# the random models did cover what they should
check "the models hold adders ($adders)" test "$adders" -ge 300
for w in '"overflow": "WRAP"' '"overflow": "SAT"' '"overflow": "SAT_SYM"' \
    '"round": "RND"' '"round": "TRN"' '"activation": "relu"' \
    '"activation": "linear"'; do
	check "some quantizer or layer has $w" grep -q "$w" dumps.json
done
# widths k+i+f of every quantizer element: 1 bit, 0 bits, negative i
awk '/"k": \[/ { gsub(/[^-0-9,]/, ""); nk = split($0, K, ",") }
    /"i": \[/ { gsub(/[^-0-9,]/, ""); split($0, I, ",") }
    /"f": \[/ { gsub(/[^-0-9,]/, ""); split($0, F, ",")
	for (j = 1; j <= nk; j++) {
		w = K[j] + I[j] + F[j]
		if (w == 1) one++
		if (w <= 0) zero++
		if (I[j] < 0) negi++
		if (K[j] == 0 && w > 0) uns++
	} }
    END { print one + 0, zero + 0, negi + 0, uns + 0 }' dumps.json > census
read one zero negi uns < census
check "1-bit elements ($one)" test "$one" -gt 0
check "pruned elements ($zero)" test "$zero" -gt 0
check "negative i ($negi)" test "$negi" -gt 0
check "unsigned elements ($uns)" test "$uns" -gt 0

# a wrong expectation must fail, with a non-zero exit
awk 'NR == 3 { c = substr($0, length($0), 1); r = (c == "0") ? "1" : "0"
    $0 = substr($0, 1, length($0) - 1) r } { print }' tb1_exp.mem > t &&
    mv t tb1_exp.mem
vvp -n sim1 > bad.txt 2>&1
check "a wrong expectation exits non-zero" test $? -ne 0
check "and is reported" grep -q '^FAIL vector 2: ' bad.txt
done_testing
