# mk/demo.mk - `make demo` and the beta sweep; included by the Makefile.
#
#   make demo         scripts/deps.sh, the build, then the whole pipeline
#                     on Fashion-MNIST into runs/demo/, ending with the
#                     summary (runs/demo/summary.md, also printed)
#   make demo-run     the pipeline alone, with the programs as they are
#   make demo-clean   remove runs/demo/
#   make demo-cnn     the same for the CNN (examples/fmnist-cnn.yaml) into
#                     runs/demo-cnn/; demo-cnn-run, demo-cnn-clean alike
#   make sweep        a beta x seed sweep, examples/sweep.mk (BETAS=,
#                     SEEDS=, BASE=, EPOCHS=; see that file), after the build
#
# Every step is a file made from files, so a rerun redoes only what is out
# of date, and an interrupted run resumes where it stopped: a failed or
# interrupted step leaves no output (.DELETE_ON_ERROR); an interrupted
# training (Ctrl-C, SIGTERM) leaves DEMO_DIR/partial.hgqm, and the next
# run resumes it.  The programs are prerequisites too: a rebuilt hgq-train
# retrains (DEMO_BIN=/absolute/path freezes them).
#
#   model.hgqm       hgq-train; beside it pareto/ (the Pareto-front models),
#                    train.tsv (the per-epoch log) and train.seconds
#   pruned.hgqm      hgq-prune
#   ebops.json       hgq-ebops --json of the pruned model
#   ebops-unpruned.json  hgq-ebops --json of the trained one
#   uniform8.txt     dense8_ebops of ebops-unpruned.json: 64 x every
#                    multiplication of the network, the uniform 8-bit
#                    reference (3,362,816
#                    for 784-64-32-10: 64 x its weights; 54,112,256 for
#                    the CNN, whose weights serve every position)
#   sim.json         hgq-sim --report json: bit-exact test accuracy
#   net.v tb.v tb_inp.mem tb_exp.mem verilog.json
#                    hgq-emit-verilog, pipelined, with a testbench on the
#                    first DEMO_VECTORS test rows, and its report
#   iverilog.log     the testbench under Icarus Verilog; must say PASS
#   tune.yaml tuned.hgqm  the final model trained on for DEMO_TUNE_EPOCHS
#                    more epochs at beta DEMO_TUNE_BETA and a constant
#                    learning rate, its front in tuned-pareto/ (the small
#                    models, for Yosys)
#   pareto.tsv       EBOPs and test accuracy of the final model and of
#                    every model of pareto/ and tuned-pareto/
#   synth.txt        the model given to Yosys (below): its pareto.tsv row
#   synth.hgqm synth.v synth.json  that model pruned and emitted
#   yosys.json       scripts/synth-yosys.sh on synth.v
#   pareto.png pareto.svg  scripts/plot-pareto.sh
#   summary.md       scripts/demo-summary.sh
#
# The Yosys model.  synth_xilinx needs about a minute for 10,000 LUTs on
# two cores, and about six for the 40,000 of a 38,000-EBOPs Fashion-MNIST
# model, so it does not get the final model (about 100,000 EBOPs) but the
# most accurate model of pareto.tsv of at most DEMO_SYNTH_EBOPS EBOPs (or
# the cheapest one when none is that small).  Such models come from the
# tuning step: the final model trained on under a larger beta, which
# costs a few epochs where a second training would cost a whole run.  The
# summary names the model and gives its EBOPs, accuracy, the emitter's
# LUT estimate and the Yosys LUTs side by side.
#
# Variables (make demo VAR=value):
#   DEMO_CONFIG       training config [examples/fmnist.yaml]
#   DEMO_DIR          where everything goes [runs/demo]
#   DEMO_TRAIN_FLAGS  more hgq-train flags, e.g. --epochs 2 --limit-train 2000
#   DEMO_TEST_X, DEMO_TEST_Y  test inputs and labels [data.test_x and
#                     data.test_y of DEMO_CONFIG]
#   DEMO_VECTORS      test rows simulated in Icarus Verilog [1000]
#   DEMO_PIPELINE     a register every N adder levels [5]
#   DEMO_TUNE_EPOCHS, DEMO_TUNE_BETA  the tuning step [6] [4e-5]
#   DEMO_TUNE_TARGET  steer beta in the tuning step towards this many EBOPs
#                     (hgq-train --target-ebops, starting from
#                     DEMO_TUNE_BETA), 0 for a constant beta [0]
#   DEMO_SYNTH_EBOPS  largest model for Yosys, in EBOPs [12000]
#   DEMO_BIN          the programs [$(B)/bin]; an absolute path uses the
#                     programs there as they are, without rebuilding them
#   DEMO_YOSYS        the synthesis command [sh scripts/synth-yosys.sh]

DEMO_CONFIG	?= examples/fmnist.yaml
DEMO_DIR	?= runs/demo
DEMO_TRAIN_FLAGS ?=
DEMO_VECTORS	?= 1000
DEMO_PIPELINE	?= 5
DEMO_SYNTH_EBOPS ?= 12000
DEMO_TUNE_EPOCHS ?= 6
DEMO_TUNE_BETA	?= 4e-5
DEMO_TUNE_TARGET ?= 0
DEMO_BIN	?= $(B)/bin
DEMO_YOSYS	?= sh scripts/synth-yosys.sh
# a key of the config's data section (block style, `key: value`)
demo_cfg = $(shell sed -n 's/^[[:space:]]*$(1):[[:space:]]*\([^[:space:]\#]*\).*/\1/p' \
	   '$(DEMO_CONFIG)' 2>/dev/null | head -n 1 | tr -d "\"'")
DEMO_TEST_X	?= $(call demo_cfg,test_x)
DEMO_TEST_Y	?= $(call demo_cfg,test_y)
# the first number stored under a key of a JSON report of ours
demo_jget = grep -o '"$(1)": *[-0-9.eE+]*' '$(2)' | head -n 1 | sed 's/.*: *//'

D	= $(DEMO_DIR)

# make demo-cnn: the same pipeline for the CNN of examples/fmnist-cnn.yaml
# into runs/demo-cnn/, the same files (summary.md, pareto.png, the
# testbench's PASS).  Only its own variables differ from make demo's:
#   - the tuning steers beta (hgq-train --target-ebops) towards 30,000
#     EBOPs for 8 epochs, starting at 1e-6: the CNN has to fall 100-fold,
#     from about 3,500,000 EBOPs, where the MLP falls 10-fold.  A constant
#     2e-6 for 3 epochs stalled at 246,351 EBOPs (a 250,000-LUT design,
#     far too long for Yosys); steered from 1e-5 towards 20,000, beta
#     rose to 2e-4 and cut the network to 11,757 EBOPs at 55 % validation
#     accuracy in three epochs.  From 1e-6 the controller lowers beta
#     again near the target, where the accuracy recovers: measured,
#     30,072 EBOPs at 79.53 % test accuracy and 19,925 at 78.79 %.
#   - 200 Icarus vectors, not 1,000: the simulation of the final CNN
#     (about 430,000 adders) costs about 0.5 to 0.8 CPU seconds an image
#     in vvp, so 1,000 images took 8 to 14 minutes, the largest step of
#     the demo; DEMO_CNN_VECTORS=1000 runs them all.
# Measured (a shared 2-core machine at load 5 to 8; CPU seconds): the
# training 472 (4 min 15 s on idle cores, measured before; 725 s wall
# here, the same model), the tuning 268, emission + iverilog + vvp of
# 200 images 199 (PASS 200), Yosys about 385 on the 30,072-EBOPs tuned
# model (79.53 % test accuracy; 32,510 LUTs, estimate 32,176): about 16
# to 17 minutes in all on two idle cores, Yosys, the training and Icarus
# the largest steps.
DEMO_CNN_CONFIG	?= examples/fmnist-cnn.yaml
DEMO_CNN_DIR	?= runs/demo-cnn
DEMO_CNN_TUNE_EPOCHS ?= 8
DEMO_CNN_TUNE_BETA ?= 1e-6
DEMO_CNN_TUNE_TARGET ?= 30000
DEMO_CNN_SYNTH_EBOPS ?= 40000
DEMO_CNN_VECTORS ?= 200
DEMO_CNN_VARS	= DEMO_CONFIG='$(DEMO_CNN_CONFIG)' DEMO_DIR='$(DEMO_CNN_DIR)' \
		  DEMO_TUNE_EPOCHS=$(DEMO_CNN_TUNE_EPOCHS) \
		  DEMO_TUNE_BETA=$(DEMO_CNN_TUNE_BETA) \
		  DEMO_TUNE_TARGET=$(DEMO_CNN_TUNE_TARGET) \
		  DEMO_VECTORS=$(DEMO_CNN_VECTORS) \
		  DEMO_SYNTH_EBOPS=$(DEMO_CNN_SYNTH_EBOPS)

.PHONY: demo demo-run demo-clean demo-cnn demo-cnn-run demo-cnn-clean sweep
.DELETE_ON_ERROR:

demo: deps
	@t0=$$(date +%s) && \
	$(MAKE) --no-print-directory all && \
	$(MAKE) --no-print-directory demo-run && \
	echo "demo: done in $$(( $$(date +%s) - t0 )) s; everything is in $(D)/"

demo-run: $(D)/summary.md $(D)/pareto.png $(D)/pareto.svg
	@cat $(D)/summary.md

demo-clean:
	rm -rf $(D)

demo-cnn: deps
	@t0=$$(date +%s) && \
	$(MAKE) --no-print-directory all && \
	$(MAKE) --no-print-directory demo-cnn-run && \
	echo "demo-cnn: done in $$(( $$(date +%s) - t0 )) s; everything is in $(DEMO_CNN_DIR)/"

demo-cnn-run:
	@$(MAKE) --no-print-directory $(DEMO_CNN_VARS) demo-run

demo-cnn-clean:
	rm -rf $(DEMO_CNN_DIR)

# Training.  The model goes to partial.hgqm, renamed when the run is
# complete: an interrupted hgq-train writes its model there and exits 1,
# and the next run resumes it (unless the config or the trainer is newer).
$(D)/model.hgqm: $(DEMO_CONFIG) $(DEMO_BIN)/hgq-train
	@mkdir -p $(D)
	@p=$(D)/partial.hgqm; \
	if [ -f $$p ] && [ $$p -nt $(DEMO_CONFIG) ] && \
	    [ $$p -nt $(DEMO_BIN)/hgq-train ]; then \
		echo "demo: resuming the training from $$p"; \
		resume="--resume $$p"; \
		s0=$$(cat $(D)/train.seconds 2>/dev/null || echo 0); \
	else \
		rm -rf $$p $(D)/pareto $(D)/train.tsv; resume=""; s0=0; \
	fi; \
	set -- $(DEMO_BIN)/hgq-train -c $(DEMO_CONFIG) $(DEMO_TRAIN_FLAGS) \
	    --pareto-dir $(D)/pareto --log $(D)/train.tsv -o $$p $$resume; \
	echo "$$*"; \
	t0=$$(date +%s); \
	"$$@"; \
	rc=$$?; \
	echo $$(( s0 + $$(date +%s) - t0 )) > $(D)/train.seconds; \
	[ $$rc -eq 0 ] && mv $$p $@

$(D)/pruned.hgqm: $(D)/model.hgqm $(DEMO_BIN)/hgq-prune
	$(DEMO_BIN)/hgq-prune -o $@ $(D)/model.hgqm

# The small models: the final model trained on for DEMO_TUNE_EPOCHS
# epochs at beta DEMO_TUNE_BETA, with the config's learning rate held
# constant (tune.yaml: the config with `lr_schedule: { type: constant }`;
# at the end of a cosine schedule the rate is too small to move the
# bits); their front goes to tuned-pareto/.
$(D)/tune.yaml: $(DEMO_CONFIG)
	@mkdir -p $(D)
	awk '/^[ \t]*lr_schedule:/ { ind = match($$0, /[^ \t]/); \
	    print substr($$0, 1, ind - 1) "lr_schedule: { type: constant }"; \
	    skip = 1; next } \
	    skip && (/^[ \t]*(#|$$)/ || match($$0, /[^ \t]/) > ind) { next } \
	    { skip = 0; print }' $(DEMO_CONFIG) > $@

$(D)/tuned.hgqm: $(D)/model.hgqm $(D)/tune.yaml $(DEMO_BIN)/hgq-train
	@rm -rf $(D)/tuned-pareto; \
	e=$$(awk -F '\t' '!/^#/ && NF > 1 { e = $$1 } END { print e + 0 }' \
	    $(D)/train.tsv); \
	set -- $(DEMO_BIN)/hgq-train -c $(D)/tune.yaml $(DEMO_TRAIN_FLAGS) \
	    --resume $(D)/model.hgqm --epochs $$((e + $(DEMO_TUNE_EPOCHS))) \
	    --beta-max $(DEMO_TUNE_BETA) \
	    $(if $(filter-out 0,$(DEMO_TUNE_TARGET)),--target-ebops $(DEMO_TUNE_TARGET)) \
	    --pareto-dir $(D)/tuned-pareto \
	    --log $(D)/tuned.tsv -o $@; \
	echo "$$*"; "$$@"

$(D)/ebops.json: $(D)/pruned.hgqm $(DEMO_BIN)/hgq-ebops
	$(DEMO_BIN)/hgq-ebops --json $(D)/pruned.hgqm > $@

$(D)/ebops-unpruned.json: $(D)/model.hgqm $(DEMO_BIN)/hgq-ebops
	$(DEMO_BIN)/hgq-ebops --json $(D)/model.hgqm > $@

$(D)/uniform8.txt: $(D)/ebops-unpruned.json
	$(call demo_jget,dense8_ebops,$<) > $@
	@grep -q '^[0-9][0-9]*$$' $@

$(D)/sim.json: $(D)/pruned.hgqm $(DEMO_BIN)/hgq-sim
	@test -n '$(DEMO_TEST_X)' && test -n '$(DEMO_TEST_Y)' || { echo \
	    "demo: no test data: set data.test_x and test_y in" \
	    "$(DEMO_CONFIG), or DEMO_TEST_X and DEMO_TEST_Y" >&2; exit 1; }
	$(DEMO_BIN)/hgq-sim -i '$(DEMO_TEST_X)' -l '$(DEMO_TEST_Y)' \
	    --report json $(D)/pruned.hgqm > $@

# --modules: submodules of at most 1,024 operations, because Icarus
# Verilog's compile time grows with the square of the signals of one
# module (the CNN's flat design did not compile in an hour; split, 68 s).
$(D)/net.v $(D)/tb.v $(D)/tb_inp.mem $(D)/tb_exp.mem $(D)/verilog.json &: \
    $(D)/pruned.hgqm $(DEMO_BIN)/hgq-emit-verilog
	$(DEMO_BIN)/hgq-emit-verilog --pipeline $(DEMO_PIPELINE) --modules \
	    -o $(D)/net.v --testbench $(D)/tb.v --vectors '$(DEMO_TEST_X)' \
	    -n $(DEMO_VECTORS) --report-file $(D)/verilog.json \
	    $(D)/pruned.hgqm

# The testbench reads its vectors by their base names: run it in $(D).
# Its output stays in iverilog.out when it does not PASS.
$(D)/iverilog.log: $(D)/net.v $(D)/tb.v $(D)/tb_inp.mem $(D)/tb_exp.mem
	cd $(D) && iverilog -g2005 -o tb.vvp tb.v net.v
	@cd $(D) && { vvp -n tb.vvp > iverilog.out 2>&1; \
	    grep '^PASS ' iverilog.out || { \
		echo "demo: the testbench did not pass, see $(D)/iverilog.out:" >&2; \
		tail -n 5 iverilog.out >&2; exit 1; }; }
	@mv $(D)/iverilog.out $@; rm -f $(D)/tb.vvp

# EBOPs and test accuracy of the final model, of every model of the front
# and of the tuned front; the reports of each front model are kept in
# eval/ and reused while they are newer than the model.
$(D)/pareto.tsv: $(D)/model.hgqm $(D)/tuned.hgqm $(D)/ebops.json \
    $(D)/sim.json $(DEMO_BIN)/hgq-ebops $(DEMO_BIN)/hgq-sim \
    scripts/model-metrics.sh
	@mkdir -p $(D)/eval
	@{ printf '#model\tmodels\tebops\ttest_acc\tlut_estimate\tn_test\n'; \
	r=$$(sh scripts/model-metrics.sh $(D)/ebops.json $(D)/sim.json) || \
	    exit 1; \
	printf 'final\tfinal\t%s\n' "$$r"; \
	for m in $(D)/pareto/*.hgqm $(D)/tuned-pareto/*.hgqm; do \
		[ -f "$$m" ] || continue; \
		case $$m in */tuned-pareto/*) set=tuned ;; *) set=front ;; esac; \
		b=$${m##*/}; b=$${b%.hgqm}; e=$(D)/eval/$$set-$$b; \
		if ! [ "$$e.sim.json" -nt "$$m" ]; then \
			$(DEMO_BIN)/hgq-ebops --json "$$m" > $$e.tmp && \
			mv $$e.tmp $$e.ebops.json && \
			$(DEMO_BIN)/hgq-sim -i '$(DEMO_TEST_X)' \
			    -l '$(DEMO_TEST_Y)' --report json "$$m" > $$e.tmp && \
			mv $$e.tmp $$e.sim.json || { rm -f $$e.tmp; exit 1; }; \
		fi; \
		r=$$(sh scripts/model-metrics.sh $$e.ebops.json \
		    $$e.sim.json) || exit 1; \
		printf '%s\t%s\t%s\n' "$$b" $$set "$$r"; \
	done; } > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }
	@echo "demo: $(D)/pareto.tsv: $$(($$(wc -l < $@) - 1)) models evaluated"

# The most accurate model of at most DEMO_SYNTH_EBOPS EBOPs (the fewer
# EBOPs on a tie), or the cheapest one.
$(D)/synth.txt: $(D)/pareto.tsv
	@awk -F '\t' -v max=$(DEMO_SYNTH_EBOPS) '!/^#/ && $$4 ~ /^[0-9.]+$$/ { \
	    if ($$3 + 0 <= max && (pick == "" || $$4 > acc || \
	        ($$4 == acc && $$3 + 0 < eb))) { \
	        pick = $$0; acc = $$4; eb = $$3 + 0 } \
	    if (cheap == "" || $$3 + 0 < ceb) { cheap = $$0; ceb = $$3 + 0 } } \
	    END { print (pick != "" ? pick : cheap) }' $(D)/pareto.tsv > $@
	@test -s $@ || { echo "demo: no model to synthesise" >&2; exit 1; }
	@echo "demo: the model for Yosys: $$(cut -f 1-4 $@)"

$(D)/synth.hgqm: $(D)/synth.txt $(D)/pruned.hgqm $(DEMO_BIN)/hgq-prune
	@m=$$(cut -f 1 $(D)/synth.txt); \
	case $$(cut -f 2 $(D)/synth.txt) in \
	final) src=$(D)/pruned.hgqm ;; \
	tuned) src=$(D)/tuned-pareto/$$m.hgqm ;; \
	*) src=$(D)/pareto/$$m.hgqm ;; \
	esac; \
	echo "$(DEMO_BIN)/hgq-prune -q -o $@ $$src"; \
	$(DEMO_BIN)/hgq-prune -q -o $@ $$src

$(D)/synth.v $(D)/synth.json &: $(D)/synth.hgqm \
    $(DEMO_BIN)/hgq-emit-verilog
	$(DEMO_BIN)/hgq-emit-verilog --pipeline $(DEMO_PIPELINE) \
	    -o $(D)/synth.v --report-file $(D)/synth.json $(D)/synth.hgqm

$(D)/yosys.json: $(D)/synth.v scripts/synth-yosys.sh
	$(DEMO_YOSYS) $(D)/synth.v > $@
	@cat $@

$(D)/pareto.png $(D)/pareto.svg &: $(D)/pareto.tsv $(D)/uniform8.txt \
    scripts/plot-pareto.sh
	@u=$$(cat $(D)/uniform8.txt); \
	test -n "$$u" || exit 1; \
	echo "sh scripts/plot-pareto.sh -g models -m final -u $$u -o $(D)/pareto $(D)/pareto.tsv"; \
	sh scripts/plot-pareto.sh -t "$(notdir $(DEMO_CONFIG)): test accuracy against EBOPs" \
	    -g models -m final -u $$u -o $(D)/pareto $(D)/pareto.tsv

$(D)/summary.md: $(D)/sim.json $(D)/ebops.json $(D)/ebops-unpruned.json \
    $(D)/uniform8.txt \
    $(D)/verilog.json $(D)/iverilog.log $(D)/pareto.tsv $(D)/synth.txt \
    $(D)/synth.json $(D)/yosys.json scripts/demo-summary.sh
	sh scripts/demo-summary.sh -c '$(DEMO_CONFIG)' \
	    -f '$(strip $(DEMO_TRAIN_FLAGS))' -x '$(DEMO_TEST_X)' $(D) > $@

# The sweep runs its own make on examples/sweep.mk (which can also be run
# directly, or one job at a time by a cluster scheduler).
sweep:
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -f examples/sweep.mk BIN=$(B)/bin
