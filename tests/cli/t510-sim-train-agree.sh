#!/bin/sh
# hgq-train's exact evaluation and hgq-sim score a model with the same
# library evaluator (lib/eval.c): on the same model and rows, the exact
# metrics hgq-train records (META val_* and test_*, full precision) are
# the numbers hgq-sim --report json prints, to the last digit.  The
# targets are not floats (0.1 and sevenths), so that scoring in float or
# summing in another order would show.
. "$TESTS_DIR/lib.sh"

# meta KEY MODEL: a metadata value, as hgq-ebops --dump prints it
meta() {
	hgq-ebops --dump "$2" | sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p"
}
# sim_json FIELD ARGS...: one number of hgq-sim's JSON report
sim_json() {
	_f=$1
	shift
	hgq-sim -t 1 --report json "$@" | sed -n "s/.*\"$_f\": \([^,}]*\).*/\1/p"
}
# agree "what" A B: the two printed numbers are the same string
agree() {
	check "$1 ($2 = $3)" test -n "$2" -a "$2" = "$3"
}

# regression: 60 rows, the last 15 are the validation split
awk 'BEGIN { for (r = 0; r < 60; r++) print (r % 7) / 10 "," (r % 5) / 3 }' > x.csv
awk -F, '{ printf "%.17g,%.17g\n", $1 * 0.3 + $2 * 0.1, $1 - $2 / 7 }' x.csv > y.csv
tail -n 15 x.csv > xv.csv
tail -n 15 y.csv > yv.csv
cat > r.yaml <<CFG
seed: 4
data: { train_x: x.csv, train_y: y.csv, test_x: x.csv, test_y: y.csv, val_split: 0.25 }
model: { layers: [ { type: dense, units: 3, activation: relu }, { type: dense, units: 2 } ] }
train: { epochs: 2, batch_size: 10, threads: 1, loss: mse }
CFG
ok "hgq-train: a regression model" hgq-train -q -c r.yaml -o r.hgqm
agree "validation MSE" "$(meta val_mse r.hgqm)" \
    "$(sim_json mse -i xv.csv -l yv.csv r.hgqm)"
agree "test MSE" "$(meta test_mse r.hgqm)" \
    "$(sim_json mse -i x.csv -l y.csv r.hgqm)"

# classification: 3 classes from the label column
awk 'BEGIN { for (r = 0; r < 90; r++) print (r % 7) / 6 "," (r % 4) / 3 "," (r * 5 % 11) % 3 }' > c.csv
cut -d, -f1,2 c.csv > cx.csv
cut -d, -f3 c.csv > cy.csv
tail -n 30 cx.csv > cxv.csv
tail -n 30 cy.csv > cyv.csv
cat > c.yaml <<CFG
seed: 2
data: { train_x: c.csv, label_col: 2, test_x: c.csv, val_split: 0.33334 }
model: { layers: [ { type: dense, units: 4, activation: relu }, { type: dense, units: 3 } ] }
train: { epochs: 2, batch_size: 10, threads: 1 }
CFG
ok "hgq-train: a classifier" hgq-train -q -c c.yaml -o c.hgqm
agree "validation accuracy" "$(meta val_accuracy c.hgqm)" \
    "$(sim_json accuracy -i cxv.csv -l cyv.csv c.hgqm)"
agree "test accuracy" "$(meta test_accuracy c.hgqm)" \
    "$(sim_json accuracy -i cx.csv -l cy.csv c.hgqm)"
done_testing
