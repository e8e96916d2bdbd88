#!/bin/sh
# hgq-emit-verilog --modules: random chains, convolutions and graphs (with
# ROMs, several named inputs and outputs) split into a top module and
# submodules of at most N ops, combinational and pipelined, adder graphs
# and behavioral: the top's port list and the testbench are those of the
# flat design, the module names are unique and the top's, every testbench
# prints PASS under Icarus Verilog, and the designs are Verilator lint
# clean.
. "$TESTS_DIR/lib.sh"

must_fail 2 "--modules=0" hgq-emit-verilog --modules=0 x.hgqm
must_fail 2 "--modules=x" hgq-emit-verilog --modules=x x.hgqm
need iverilog vvp
lint=1
command -v verilator >/dev/null 2>&1 || lint=0

# the top module's port list, from its name to ");"
ports() {
	sed -n "/^module $1 (/,/^);/p" "$2"
}

# emit model $1 on vectors $2 flat and with "--modules$3 --pipeline $4"
# (both named n$t; style $6, adders by default): the same ports and
# testbench, unique names, PASS $5
split_case() {
	t=$(basename "$1" .hgqm)_$4_${3#=}${6:+_$6}
	st=${6:-adders}
	ok "$t: flat" hgq-emit-verilog --style $st --pipeline $4 -n $5 \
	    -o f$t.v --top n$t --testbench ftb$t.v --vectors $2 $1
	ok "$t: --modules$3" hgq-emit-verilog --style $st --modules$3 \
	    --pipeline $4 -n $5 -o s$t.v --top n$t --testbench stb$t.v \
	    --vectors $2 $1
	sed 's/"ftb/"stb/' ftb$t.v > ftb2$t.v
	check "$t: the same testbench" cmp -s ftb2$t.v stb$t.v
	check "$t: the same vectors" cmp -s ftb${t}_exp.mem stb${t}_exp.mem
	ports n$t f$t.v > fp$t.txt
	ports n$t s$t.v > sp$t.txt
	check "$t: the same top ports" cmp -s fp$t.txt sp$t.txt
	n=$(grep -c "^module n${t}_l[0-9]*_p[0-9]* ($" s$t.v)
	check "$t: $n submodules, each instantiated once" test "$n" -ge 2 -a \
	    "$(grep -c "^n${t}_l[0-9]*_p[0-9]* u_l[0-9]*_p[0-9]* ($" s$t.v)" \
	    -eq "$n"
	check "$t: no name twice" test -z "$(grep '^module' s$t.v | sort |
	    uniq -d)"
	iverilog -g2005 -o sim$t stb$t.v s$t.v && vvp -n sim$t > run$t.txt 2>&1
	check "$t: PASS $5" grep -q "^PASS $5\$" run$t.txt
}

# random chains
s=0
for shape in 12,10,6 5,7,7,3 16,8; do
	s=$((s + 1))
	mkfixture --seed $((500 + s)) --shape $shape --max-width $((4 + s)) \
	    -o c$s.hgqm
	mkdata --seed $s --lo -12 --hi 12 200 "${shape%%,*}" xc$s.npy
	split_case c$s.hgqm xc$s.npy =1 0 200
	split_case c$s.hgqm xc$s.npy =5 $s 200
done

# convolutions and pooling
archs="in:6x6x2,conv2d:3:3x3:1x1:same,maxpool:2x2,conv2d:4:2x2:2x2,flatten,dense:3
in:12x2,conv1d:3:3:2,avgpool:2,conv1d:2:2:1:same,maxpool:2,flatten,dense:4"
s=0
for a in $archs; do
	s=$((s + 1))
	mkfixture --seed $((510 + s)) --fit --max-width $((3 + s)) --arch "$a" \
	    -o v$s.hgqm
	n_in=$(hgq-ebops --dump v$s.hgqm | awk -F'[][]' '/"index_map"/ \
	    { print split($2, a, ",") }')
	mkdata --seed $s --lo -9 --hi 9 100 "$n_in" xv$s.npy
	split_case v$s.hgqm xv$s.npy =7 0 100
	split_case v$s.hgqm xv$s.npy "" 2 100
	split_case v$s.hgqm xv$s.npy =3 1 100
	split_case v$s.hgqm xv$s.npy =9 2 100 behavioral
done
# the default (1024 ops): one submodule per layer with logic (conv2d,
# maxpool, conv2d, dense; flatten has none), named by its model layer
grep '^module' sv1_2_.v > mods.txt
printf 'module nv1_2_%s (\n' '' _l1_p0 _l3_p0 _l5_p0 _l9_p0 > mods.ok
check "the default: a submodule per layer with logic" cmp -s mods.txt mods.ok

# a graph: the muon example of examples/muon.yaml (three named inputs,
# conv1d, tanh ROMs, masked dense layers, adds), one short epoch
PATH="$HGQ_BIN/../tools:$PATH"
mkdir -p runs/muon
hgq-gendata -n 600 -s 1 muon runs/muon/train-x.npy runs/muon/train-y.npy
hgq-gendata -n 100 -s 2 muon runs/muon/test-x.npy runs/muon/test-y.npy
sed -e 's/epochs: 20/epochs: 1/' -e 's/epoch: 20, value/epoch: 1, value/' \
    -e '/^output:/,$d' "$ROOT/examples/muon.yaml" > mu.yaml
ok "the muon graph trains" hgq-train -q -c mu.yaml --threads 2 -o mu.hgqm
for p in 0 3; do
	split_case mu.hgqm runs/muon/test-x.npy =64 $p 100
done
check "the graph: ROMs in the submodules" sh -c \
    "sed -n '/^module nmu_3_64_/,\$p' smu_3_64.v | grep -q 'case ('"
check "the graph: the top's three named inputs" sh -c \
    "grep -c '^	input \[[0-9]*:0\] inp_' smu_3_64.v | grep -qx 3"

if [ $lint = 1 ]; then
	for t in v1_2_ v2_0_7 v1_2_9_behavioral mu_3_64 c1_0_1; do
		check "$t: Verilator lint clean" verilator --lint-only -Wall \
		    --top-module n$t s$t.v
	done
fi
done_testing
