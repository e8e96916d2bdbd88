# mk/fig3.mk - `make fig3`: the HGQ paper's Figure 3 (LUTs against
# EBOPs) with open tools; included by the Makefile.
#
#   make fig3         the build, then everything below into runs/fig3/
#                     (17 min on 2 shared cores; README.md),
#                     ending with the fit (runs/fig3/fit.md, also printed)
#   make fig3-run     the same with the programs as they are
#   make fig3-clean   remove runs/fig3/
#
# 1. A sweep: FIG3_CONFIG trained once per beta of FIG3_BETAS (hgq-train
#    --beta-max, FIG3_EPOCHS epochs, one thread a job, FIG3_JOBS jobs side
#    by side) into train/<beta>/ with its Pareto front in pareto/.
# 2. Every front model of every job costed (hgq-ebops) and simulated on
#    the test set (hgq-sim): eval.tsv; those of at most FIG3_MAX_EBOPS
#    EBOPs (Yosys time), thinned to at most FIG3_MODELS models evenly
#    spread on log EBOPs: selected.tsv; each model pruned into
#    m/<id>/model.hgqm.  Every job's front counts, not only the merged
#    one: the figure is about cost, and the merged front of a few jobs
#    has too few models below a few thousand EBOPs.
# 3. Per model: the adder-graph Verilog (hgq-emit-verilog, with its LUT
#    estimate in adders.json) and the behavioral one (--style
#    behavioral), both through Yosys synth_xilinx (scripts/synth-yosys.sh,
#    --nodsp for the behavioral one so that its multipliers are LUTs
#    too): m/<id>/row.tsv.
# 4. lut.tsv (every model: EBOPs, accuracy, the three LUT counts, Yosys
#    seconds), fit.tsv and fit.md (LUT = a * EBOPs^b by least squares on
#    the logs, scripts/fit-lut.awk, for each back end, with R^2 and the
#    error of the fitted estimate and of the emitter's), and fig3.png,
#    fig3.svg (scripts/plot-fig3.sh: LUTs against EBOPs with both fits,
#    and the distribution of the estimates' errors).
#
# The model list is known only after step 2, so steps 3 and 4 run in a
# second make with FIG3_IDS set from selected.tsv.  Every step is a file
# made from files: a rerun redoes what is out of date, a failed step
# leaves nothing (.DELETE_ON_ERROR), a re-selected model whose bits did
# not change keeps its synthesis.
#
# Variables (make fig3 VAR=value):
#   FIG3_CONFIG     [examples/fig3.yaml]
#   FIG3_BETAS      [6.4e-5 2.56e-4 1e-3 4e-3]
#   FIG3_EPOCHS     [10]
#   FIG3_MAX_EBOPS  [8000]
#   FIG3_MODELS     [20]
#   FIG3_JOBS       trainings and syntheses side by side [2]
#   FIG3_TRAIN_FLAGS  more hgq-train flags (--limit-train N for a quick look)
#   FIG3_DIR        [runs/fig3]
#   FIG3_BIN        the programs [$(B)/bin]

FIG3_CONFIG	?= examples/fig3.yaml
FIG3_BETAS	?= 6.4e-5 2.56e-4 1e-3 4e-3
FIG3_EPOCHS	?= 10
FIG3_MAX_EBOPS	?= 8000
FIG3_MODELS	?= 20
FIG3_JOBS	?= 2
FIG3_TRAIN_FLAGS ?=
FIG3_DIR	?= runs/fig3
FIG3_BIN	?= $(B)/bin
FIG3_YOSYS	?= sh scripts/synth-yosys.sh
fig3_cfg = $(shell sed -n 's/^[[:space:]]*$(1):[[:space:]]*\([^[:space:]\#]*\).*/\1/p' \
	   '$(FIG3_CONFIG)' 2>/dev/null | head -n 1 | tr -d "\"'")
FIG3_TEST_X	?= $(call fig3_cfg,test_x)
FIG3_TEST_Y	?= $(call fig3_cfg,test_y)

F3	= $(FIG3_DIR)
F3_TRAIN = $(FIG3_BETAS:%=$(F3)/train/%/model.hgqm)
F3_ROWS	= $(FIG3_IDS:%=$(F3)/m/%/row.tsv)
# the first number stored under a key of a JSON report of ours
f3_jget = grep -o '"$(1)": *[-0-9.eE+]*' "$(2)" | head -n 1 | sed 's/.*: *//'

.PHONY: fig3 fig3-run fig3-clean fig3-synth
.SECONDARY: $(foreach i,$(FIG3_IDS),$(addprefix $(F3)/m/$(i)/, \
	    ebops.json adders.v adders.json behav.v yosys-adders.json \
	    yosys-behav.json))

fig3: deps
	@t0=$$(date +%s) && \
	$(MAKE) --no-print-directory all && \
	$(MAKE) --no-print-directory fig3-run && \
	echo "fig3: done in $$(( $$(date +%s) - t0 )) s; everything is in $(F3)/"

fig3-run:
	@$(MAKE) --no-print-directory -j$(FIG3_JOBS) $(F3)/selected.tsv
	@$(MAKE) --no-print-directory -j$(FIG3_JOBS) fig3-synth \
	    FIG3_IDS="$$(cut -f 1 $(F3)/selected.tsv | grep -v '^#' | tr '\n' ' ')"
	@cat $(F3)/fit.md

fig3-synth: $(F3)/fit.md $(F3)/fig3.png $(F3)/fig3.svg

fig3-clean:
	rm -rf $(F3)

# 1. one training per beta; the model is written last, by hgq-train -o
$(F3)/train/%/model.hgqm: $(FIG3_CONFIG) $(FIG3_BIN)/hgq-train
	@rm -rf $(@D)/pareto; mkdir -p $(@D)
	$(FIG3_BIN)/hgq-train -q -c $(FIG3_CONFIG) --beta-max $* \
	    --epochs $(FIG3_EPOCHS) --threads 1 --pareto-dir $(@D)/pareto \
	    $(FIG3_TRAIN_FLAGS) --log $(@D)/train.tsv -o $@

# 2. every front model: <beta>/<name> EBOPs accuracy; the reports of a
# model are kept beside it and reused while newer than it
$(F3)/eval.tsv: $(F3_TRAIN) $(FIG3_BIN)/hgq-ebops $(FIG3_BIN)/hgq-sim
	@{ printf '#model\tebops\ttest_acc\n'; \
	for m in $(FIG3_BETAS:%=$(F3)/train/%/pareto/*.hgqm); do \
		[ -f "$$m" ] || continue; \
		e=$${m%.hgqm}; \
		if ! [ "$$e.sim.json" -nt "$$m" ]; then \
			$(FIG3_BIN)/hgq-ebops --json "$$m" > $$e.tmp && \
			mv $$e.tmp $$e.ebops.json && \
			$(FIG3_BIN)/hgq-sim -i '$(FIG3_TEST_X)' \
			    -l '$(FIG3_TEST_Y)' --report json "$$m" \
			    > $$e.tmp && mv $$e.tmp $$e.sim.json || \
			    { rm -f $$e.tmp; exit 1; }; \
		fi; \
		eb=$$($(call f3_jget,total_ebops,$$e.ebops.json)); \
		acc=$$($(call f3_jget,accuracy,$$e.sim.json)); \
		b=$${m#$(F3)/train/}; \
		printf '%s\t%s\t%s\n' "$${b%.hgqm}" "$$eb" "$$acc"; \
	done; } > $@.tmp && mv $@.tmp $@ || { rm -f $@.tmp; exit 1; }
	@echo "fig3: $$(($$(wc -l < $@) - 1)) front models evaluated"

# the front models of every job of at most FIG3_MAX_EBOPS, by EBOPs
# up, thinned: a model is kept when its log EBOPs is a step past the
# last one kept (the cheapest and the dearest always)
$(F3)/selected.tsv: $(F3)/eval.tsv $(FIG3_BIN)/hgq-prune
	@sort -t '	' -k 2,2n -k 3,3nr $(F3)/eval.tsv | awk -F '\t' \
	    -v max=$(FIG3_MAX_EBOPS) -v n=$(FIG3_MODELS) ' \
	    /^#/ || $$2 + 0 <= 0 || $$2 + 0 > max { next } \
	    { k++; row[k] = $$0; e[k] = $$2 } \
	    END { if (k == 0) exit 1; \
		step = n > 1 ? (log(e[k]) - log(e[1])) / (n - 1) : 1e300; \
		print "#id\tmodel\tebops\ttest_acc"; last = -1e300; \
		for (j = 1; j <= k; j++) \
			if (j == 1 || j == k || \
			    log(e[j]) - last >= step * 0.999 && \
			    log(e[k]) - log(e[j]) >= step * 0.5) { \
				last = log(e[j]); id = row[j]; \
				sub(/\t.*/, "", id); gsub(/[^A-Za-z0-9.+-]/, "_", id); \
				print id "\t" row[j] } }' > $@.tmp || \
	    { rm -f $@.tmp; echo "fig3: no front model of at most" \
	    "$(FIG3_MAX_EBOPS) EBOPs" >&2; exit 1; }
	@tail -n +2 $@.tmp | while IFS='	' read -r id m eb acc; do \
		d=$(F3)/m/$$id; mkdir -p $$d; \
		$(FIG3_BIN)/hgq-prune -q -o $$d/new.hgqm $(F3)/train/$$m.hgqm \
		    || exit 1; \
		if cmp -s $$d/new.hgqm $$d/model.hgqm; then \
			rm $$d/new.hgqm; \
		else \
			mv $$d/new.hgqm $$d/model.hgqm; \
		fi; \
		printf "%s\t%s\t%s\n" $$m $$eb $$acc > $$d/info.new; \
		cmp -s $$d/info.new $$d/info.tsv && rm $$d/info.new || \
		    mv $$d/info.new $$d/info.tsv; \
	done
	@mv $@.tmp $@
	@echo "fig3: $$(($$(wc -l < $@) - 1)) models to synthesise:"; \
	    cut -f 1,3,4 $@ | tail -n +2 | sed 's/^/    /'

# 3. the two back ends and Yosys
$(F3)/m/%/ebops.json: $(F3)/m/%/model.hgqm $(FIG3_BIN)/hgq-ebops
	$(FIG3_BIN)/hgq-ebops --json $< > $@

$(F3)/m/%/adders.v $(F3)/m/%/adders.json &: $(F3)/m/%/model.hgqm \
    $(FIG3_BIN)/hgq-emit-verilog
	$(FIG3_BIN)/hgq-emit-verilog -o $(@D)/adders.v \
	    --report-file $(@D)/adders.json $<

$(F3)/m/%/behav.v: $(F3)/m/%/model.hgqm $(FIG3_BIN)/hgq-emit-verilog
	$(FIG3_BIN)/hgq-emit-verilog --style behavioral -o $@ $<

$(F3)/m/%/yosys-adders.json: $(F3)/m/%/adders.v scripts/synth-yosys.sh
	$(FIG3_YOSYS) $< > $@

$(F3)/m/%/yosys-behav.json: $(F3)/m/%/behav.v scripts/synth-yosys.sh
	$(FIG3_YOSYS) --nodsp $< > $@

# id ebops test_acc lut_adders lut_behavioral lut_est_emitter
# lut_est_ebops yosys_s_adders yosys_s_behavioral
$(F3)/m/%/row.tsv: $(F3)/m/%/ebops.json $(F3)/m/%/adders.json \
    $(F3)/m/%/yosys-adders.json $(F3)/m/%/yosys-behav.json \
    $(F3)/m/%/info.tsv
	@d=$(@D); \
	acc=$$(cut -f 3 $$d/info.tsv); \
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $* \
	    $$($(call f3_jget,total_ebops,$$d/ebops.json)) "$$acc" \
	    $$($(call f3_jget,lut,$$d/yosys-adders.json)) \
	    $$($(call f3_jget,lut,$$d/yosys-behav.json)) \
	    $$($(call f3_jget,lut_estimate,$$d/adders.json)) \
	    $$($(call f3_jget,lut_estimate,$$d/ebops.json)) \
	    $$($(call f3_jget,seconds,$$d/yosys-adders.json)) \
	    $$($(call f3_jget,seconds,$$d/yosys-behav.json)) > $@

# 4. the table, the fit, the figure
$(F3)/lut.tsv: $(F3_ROWS)
	@test -n '$(FIG3_IDS)' || { echo "fig3: FIG3_IDS is empty (run make fig3)" >&2; exit 1; }
	@{ printf '#id\tebops\ttest_acc\tlut_adders\tlut_behavioral\t'; \
	printf 'lut_est_emitter\tlut_est_ebops\tyosys_s_adders\t'; \
	printf 'yosys_s_behavioral\n'; \
	cat $(F3_ROWS) | sort -t '	' -k 2,2n; } > $@

$(F3)/fit.tsv: $(F3)/lut.tsv scripts/fit-lut.awk
	@{ printf '#what\tn\ta\tb\tr2\tmean_err\tmedian_abs_err\trms_err\tmax_abs_err\n'; \
	for w in "adders:lut_adders:" "behavioral:lut_behavioral:" \
	    "emitter_estimate:lut_adders:lut_est_emitter" \
	    "ebops_estimate:lut_adders:lut_est_ebops"; do \
		name=$${w%%:*}; r=$${w#*:}; y=$${r%%:*}; est=$${r#*:}; \
		r=$$(awk -F '\t' -v x=ebops -v y=$$y -v est=$$est \
		    -v errors=$(F3)/err-$$name.txt -f scripts/fit-lut.awk \
		    $(F3)/lut.tsv) || exit 1; \
		printf '%s\t%s\n' $$name "$$r"; \
	done; } > $@.tmp && mv $@.tmp $@

$(F3)/fig3.png $(F3)/fig3.svg &: $(F3)/lut.tsv $(F3)/fit.tsv \
    scripts/plot-fig3.sh
	sh scripts/plot-fig3.sh -o $(F3)/fig3 $(F3)/lut.tsv $(F3)/fit.tsv

$(F3)/fit.md: $(F3)/lut.tsv $(F3)/fit.tsv
	@awk -F '\t' ' \
	    FNR == 1 { f++ } /^#/ { next } \
	    f == 1 { n++; sa += $$8; sb += $$9; \
		if ($$2 + 0 > emax) emax = $$2; \
		if (emin == "" || $$2 + 0 < emin) emin = $$2; next } \
	    f == 2 { w[++k] = $$0 } \
	    END { \
		printf "# make fig3: LUTs against EBOPs\n\n"; \
		printf "%d models of %d to %d EBOPs; Yosys synth_xilinx " \
		    "took %.0f s on the adder graphs, %.0f s on the " \
		    "behavioral Verilog.\n\n", n, emin, emax, sa, sb; \
		printf "| | n | a | b | R^2 (logs) | mean error | " \
		    "median abs. error | RMS error | max abs. error |\n"; \
		printf "|---|---|---|---|---|---|---|---|---|\n"; \
		for (j = 1; j <= k; j++) { split(w[j], c, "\t"); \
		    fit = c[1] !~ /estimate/; \
		    printf "| %s | %d | %s | %s | %s | %+.1f %% | " \
			"%.1f %% | %.1f %% | %.1f %% |\n", c[1], c[2], \
			fit ? sprintf("%.4g", c[3]) : "-", \
			fit ? sprintf("%.4f", c[4]) : "-", \
			fit ? sprintf("%.4f", c[5]) : "-", 100 * c[6], \
			100 * c[7], 100 * c[8], 100 * c[9] } \
		printf "\nadders, behavioral: LUT = a * EBOPs^b fitted to " \
		    "the Yosys LUTs of each back end, errors of that fit; " \
		    "emitter_estimate: the lut_estimate of hgq-emit-verilog " \
		    "(from its adders) against the adder-graph LUTs; " \
		    "ebops_estimate: the lut_estimate of hgq-ebops against " \
		    "the same.  An error is estimate / Yosys - 1.\n" }' \
	    $(F3)/lut.tsv $(F3)/fit.tsv > $@
