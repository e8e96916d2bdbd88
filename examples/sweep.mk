# examples/sweep.mk - a sweep of independent training jobs (configs x
# beta_max x seeds), run by make -j, GNU parallel or a Slurm job array,
# gathered into one table, one merged Pareto front and plots; then the
# front models synthesised with Yosys through the same runners.
# hgq-sweep(7) is the manual; in short:
#
#   make -f examples/sweep.mk -j2 SWEEP=my-sweep.mk       make -j runs it
#   make -f examples/sweep.mk SWEEP=my-sweep.mk parallel  GNU parallel
#   make -f examples/sweep.mk SWEEP=my-sweep.mk slurm     sbatch --array
#   make -f examples/sweep.mk SWEEP=my-sweep.mk synth     Yosys on the front
#   make sweep BETAS=...       the first, after building the programs
#
# The sweep description is Make variables, in a file named by SWEEP (or
# on the command line, which wins):
#
#   CONFIGS       base configs, one per architecture [BASE]
#   BASE          the base config when CONFIGS is not set [examples/fmnist.yaml]
#   BETAS, SEEDS  the lists [1e-6 3e-6 1e-5] [1 2]
#   EPOCHS        --epochs for every job [the config's]
#   LIMIT         --limit-train for every job [all rows]
#   THREADS       --threads of hgq-train [1]
#   TRAIN_FLAGS   more hgq-train flags, for every job
#   TEST_X, TEST_Y  test data [data.test_x and data.test_y of the first
#                 config]: every accuracy is counted on it, bit-exactly
#   S             the sweep's folder [runs/sweep]
#   BIN           the programs [build/bin; built by the Makefile if missing]
#   Slurm:        CPUS [THREADS], MEM [none asked], TIME [60, minutes],
#                 PARTITION [the default], SBATCH_FLAGS, MAX_TASKS (at
#                 most this many tasks at once), WAIT=1 (wait for the gather)
#   parallel:     PARALLEL_FLAGS [-j 2]; --sshlogin host1,host2 works when
#                 the hosts share the folders at the same paths
#   synth:        SYNTH_MAX_EBOPS (front models up to this size) [20000],
#                 SYNTH_FLAGS (scripts/synth-yosys.sh flags)
#
# Job <id> lives in $(S)/<id>/, id = <beta>-<seed>, or
# <config name>-<beta>-<seed> with several configs:
#
#   config.yaml   the config with `seed:` set to the job's seed
#   model.hgqm    hgq-train -c config.yaml --beta-max BETA --seed SEED
#                 [--epochs EPOCHS] [--limit-train LIMIT] --threads THREADS,
#                 with its Pareto front in pareto/ and its log in train.tsv
#                 (progress in train.log)
#   pruned.hgqm   hgq-prune
#   ebops.json    hgq-ebops --json
#   sim.json      hgq-sim --report json on TEST_X and TEST_Y
#   front.tsv     hgq-pareto -a of pruned.hgqm and pareto/*.hgqm, accuracy
#                 counted on TEST_X/TEST_Y (names relative to $(S))
#   result.tsv    one row: job, beta_max, seed, ebops, test_acc,
#                 lut_estimate, n_test
#
# A job writes only its folder and depends only on its config, its own
# files and the programs: whichever runner runs it, it gives the same
# bytes; a rerun redoes only what is missing or out of date; an
# interrupted training resumes from the job's partial.hgqm.
#
# The manifest: $(S)/sweep.vars (the description, every variable
# resolved, paths absolute) and $(S)/jobs.tsv (one line a job: id,
# config, beta_max, seed, flags).  Line N + 1 (after the header) is job
# N; scripts/sweep-run.sh task S jobs.tsv N makes it, which is what a
# parallel job or Slurm array task N runs.
#
# The gather (target gather): $(S)/results.tsv (every result row, by
# EBOPs), $(S)/models.tsv (every model of every job's front.tsv, column
# "front"), $(S)/front.tsv and front.json (the merged front), and plots:
# pareto.png/svg (test accuracy of the final models by beta_max) and
# front.png/svg (every model and the merged front).
#
# Batch synthesis (target synth, synth-parallel, synth-slurm): every model
# of front.tsv of at most SYNTH_MAX_EBOPS EBOPs gets $(S)/synth/<id>/
# (<id> = <job>--<model>: net.v, verilog.json, yosys.json, row.tsv);
# $(S)/synth.tsv has one row per model: its EBOPs, accuracy, hgq-ebops's
# LUT estimate, the emitter's adder estimate, Yosys LUTs, FFs and carries.

SWEEP_MK := $(lastword $(MAKEFILE_LIST))
ifneq ($(SWEEP),)
include $(SWEEP)
endif

BASE	?= examples/fmnist.yaml
CONFIGS	?= $(BASE)
BETAS	?= 1e-6 3e-6 1e-5
SEEDS	?= 1 2
EPOCHS	?=
LIMIT	?=
THREADS	?= 1
TRAIN_FLAGS ?=
S	?= runs/sweep
BIN	?= build/bin
CPUS	?= $(THREADS)
MEM	?=
TIME	?= 60
PARTITION ?=
SBATCH_FLAGS ?=
MAX_TASKS ?=
WAIT	?=
PARALLEL_FLAGS ?= -j 2
SYNTH_MAX_EBOPS ?= 20000
SYNTH_FLAGS ?=
FIRST_CONFIG := $(firstword $(CONFIGS))
cfg_key = $(shell sed -n 's/^[[:space:]]*$(1):[[:space:]]*\([^[:space:]\#]*\).*/\1/p' \
	  '$(FIRST_CONFIG)' 2>/dev/null | head -n 1 | tr -d "\"'")
TEST_X	?= $(call cfg_key,test_x)
TEST_Y	?= $(call cfg_key,test_y)

# the jobs: one per config x beta x seed, with its variables CFG_<id>,
# BETA_<id> and SEED_<id>
job_id = $(if $(word 2,$(CONFIGS)),$(basename $(notdir $(1)))-)$(2)-$(3)
define job_def
JOBS += $(1)
CFG_$(1) := $(2)
BETA_$(1) := $(3)
SEED_$(1) := $(4)
endef
JOBS :=
$(foreach c,$(CONFIGS),$(foreach b,$(BETAS),$(foreach s,$(SEEDS),\
    $(eval $(call job_def,$(call job_id,$(c),$(b),$(s)),$(c),$(b),$(s))))))
JOB_FLAGS = $(if $(EPOCHS),--epochs $(EPOCHS)) \
	    $(if $(LIMIT),--limit-train $(LIMIT)) --threads $(THREADS) \
	    $(TRAIN_FLAGS)

RESULTS	:= $(JOBS:%=$(S)/%/result.tsv)
FRONTS	:= $(JOBS:%=$(S)/%/front.tsv)
ROOT	:= $(abspath $(dir $(SWEEP_MK))..)
RUN	= sh $(ROOT)/scripts/sweep-run.sh
# every file of every job is kept (pattern rules would delete them as
# intermediate files)
.SECONDARY:
.DELETE_ON_ERROR:
.SECONDEXPANSION:
.PHONY: all gather jobs manifest parallel slurm synth synth-manifest \
	synth-parallel synth-slurm synth-gather

all: $(S)/jobs.tsv gather

gather: $(S)/results.tsv $(S)/models.tsv $(S)/front.tsv $(S)/front.json \
    $(S)/pareto.png $(S)/pareto.svg $(S)/front.png $(S)/front.svg

jobs:
	@for r in $(RESULTS); do echo $$r; done

# ------------------------------------------------------------------
# The manifest.  jobs.tsv and sweep.vars are rewritten only when their
# text changes; `manifest` (run by the parallel and Slurm runners)
# always checks, $(S)/jobs.tsv (made by the make runner) when the
# description file is newer.
# ------------------------------------------------------------------
define write_manifest
	@mkdir -p $(S)
	@{ echo "# the sweep $(abspath $(S)), resolved from $(if $(SWEEP),$(SWEEP),the command line)"; \
	echo "CONFIGS = $(abspath $(CONFIGS))"; \
	echo "BETAS = $(BETAS)"; echo "SEEDS = $(SEEDS)"; \
	echo "EPOCHS = $(EPOCHS)"; echo "LIMIT = $(LIMIT)"; \
	echo "THREADS = $(THREADS)"; echo "TRAIN_FLAGS = $(TRAIN_FLAGS)"; \
	echo "TEST_X = $(if $(TEST_X),$(abspath $(TEST_X)))"; \
	echo "TEST_Y = $(if $(TEST_Y),$(abspath $(TEST_Y)))"; \
	echo "S = $(abspath $(S))"; echo "BIN = $(abspath $(BIN))"; \
	echo "CPUS = $(CPUS)"; echo "MEM = $(MEM)"; echo "TIME = $(TIME)"; \
	echo "PARTITION = $(PARTITION)"; echo "SBATCH_FLAGS = $(SBATCH_FLAGS)"; \
	echo "MAX_TASKS = $(MAX_TASKS)"; \
	echo "SYNTH_MAX_EBOPS = $(SYNTH_MAX_EBOPS)"; \
	echo "SYNTH_FLAGS = $(SYNTH_FLAGS)"; } > $(S)/sweep.vars.tmp
	@{ printf '#job\tconfig\tbeta_max\tseed\tflags\n'; \
	$(foreach j,$(JOBS),printf '%s\t%s\t%s\t%s\t%s\n' '$(j)' \
	    '$(abspath $(CFG_$(j)))' '$(BETA_$(j))' '$(SEED_$(j))' \
	    '--beta-max $(BETA_$(j)) --seed $(SEED_$(j)) $(strip $(JOB_FLAGS))';) \
	} > $(S)/jobs.tsv.tmp
	@for f in sweep.vars jobs.tsv; do \
	    if cmp -s $(S)/$$f.tmp $(S)/$$f; then rm -f $(S)/$$f.tmp; \
	    else mv $(S)/$$f.tmp $(S)/$$f; fi; done
endef

manifest:
	$(write_manifest)
	@echo "sweep: $(words $(JOBS)) jobs in $(S)/jobs.tsv"

$(S)/jobs.tsv: $(SWEEP) $(SWEEP_MK)
	$(write_manifest)
	@touch $@

# ------------------------------------------------------------------
# One job
# ------------------------------------------------------------------
$(S)/%/config.yaml: $$(CFG_$$*)
	@test -n '$(CFG_$*)' || { echo "sweep: '$*' is not a job of this" \
	    "sweep (see $(S)/jobs.tsv)" >&2; exit 1; }
	@mkdir -p $(@D)
	@{ echo "# sweep job $*: $(abspath $(CFG_$*)) with seed $(SEED_$*)," \
	    "trained with --beta-max $(BETA_$*)"; \
	grep -q '^seed:' $(CFG_$*) || echo "seed: $(SEED_$*)"; \
	sed "s/^seed:.*/seed: $(SEED_$*)/" $(CFG_$*); } > $@

$(S)/%/model.hgqm: $(S)/%/config.yaml $(BIN)/hgq-train
	@d=$(@D); p=$$d/partial.hgqm; \
	if [ -f $$p ] && [ $$p -nt $$d/config.yaml ] && \
	    [ $$p -nt $(BIN)/hgq-train ]; then \
		resume="--resume $$p"; \
	else \
		rm -rf $$p $$d/pareto $$d/train.tsv; resume=""; \
	fi; \
	set -- $(BIN)/hgq-train -c $$d/config.yaml --beta-max $(BETA_$*) \
	    --seed $(SEED_$*) $(JOB_FLAGS) --pareto-dir $$d/pareto \
	    --log $$d/train.tsv -o $$p $$resume; \
	echo "$$*"; \
	"$$@" 2> $$d/train.log || { tail -n 5 $$d/train.log >&2; exit 1; }; \
	tail -n 1 $$d/train.log; \
	mv $$p $@

$(S)/%/pruned.hgqm: $(S)/%/model.hgqm $(BIN)/hgq-prune
	$(BIN)/hgq-prune -q -o $@ $<

$(S)/%/ebops.json: $(S)/%/pruned.hgqm $(BIN)/hgq-ebops
	$(BIN)/hgq-ebops --json $< > $@

check_test_data = @test -n '$(TEST_X)' && test -n '$(TEST_Y)' || { echo \
	    "sweep: no test data: set data.test_x and test_y in" \
	    "$(FIRST_CONFIG), or TEST_X and TEST_Y" >&2; exit 1; }

$(S)/%/sim.json: $(S)/%/pruned.hgqm $(BIN)/hgq-sim
	$(check_test_data)
	$(BIN)/hgq-sim -t $(THREADS) -i '$(TEST_X)' -l '$(TEST_Y)' \
	    --report json $< > $@

# names relative to $(S), so that fronts of sweeps in other folders
# compare byte for byte
$(S)/%/front.tsv: $(S)/%/pruned.hgqm $(BIN)/hgq-pareto
	$(check_test_data)
	cd $(S) && $(abspath $(BIN))/hgq-pareto -a -t $(THREADS) \
	    -i '$(abspath $(TEST_X))' -l '$(abspath $(TEST_Y))' \
	    -o $*/front.tsv $*/pruned.hgqm $$(ls $*/pareto/*.hgqm 2>/dev/null)

$(S)/%/result.tsv: $(S)/%/ebops.json $(S)/%/sim.json $(S)/%/front.tsv \
    $(ROOT)/scripts/model-metrics.sh
	@r=$$(sh $(ROOT)/scripts/model-metrics.sh $(@D)/ebops.json \
	    $(@D)/sim.json) && \
	printf '%s\t%s\t%s\t%s\n' $* $(BETA_$*) $(SEED_$*) "$$r" > $@

# ------------------------------------------------------------------
# The gather
# ------------------------------------------------------------------
$(S)/results.tsv: $(RESULTS)
	@{ printf '#job\tbeta_max\tseed\tebops\ttest_acc\tlut_estimate\tn_test\n'; \
	cat $(RESULTS) | sort -t "$$(printf '\t')" -k 4,4n; } > $@
	@cat $@

$(S)/models.tsv: $(FRONTS) $(BIN)/hgq-pareto
	cd $(S) && $(abspath $(BIN))/hgq-pareto -a -o models.tsv \
	    $(JOBS:%=%/front.tsv)

$(S)/front.tsv: $(S)/models.tsv
	$(BIN)/hgq-pareto -o $@ $<

$(S)/front.json: $(S)/models.tsv
	$(BIN)/hgq-pareto --json -o $@ $<

# the uniform 8-bit reference: 64 x the weights of the unpruned network
uniform8 = w=$$($(BIN)/hgq-ebops --json $(S)/$(firstword $(JOBS))/model.hgqm | \
	    grep -o '"weights": *[0-9]*' | head -n 1 | sed 's/.*: *//'); \
	test -n "$$w" || exit 1
$(S)/pareto.png $(S)/pareto.svg &: $(S)/results.tsv $(ROOT)/scripts/plot-pareto.sh
	@$(uniform8); \
	echo "sh scripts/plot-pareto.sh -g beta_max -u $$((64 * w)) -o $(S)/pareto $(S)/results.tsv"; \
	sh $(ROOT)/scripts/plot-pareto.sh -t "sweep of $(notdir $(CONFIGS)): test accuracy against EBOPs" \
	    -g beta_max -u $$((64 * w)) -o $(S)/pareto $(S)/results.tsv

$(S)/front.png $(S)/front.svg &: $(S)/models.tsv $(ROOT)/scripts/plot-pareto.sh
	@$(uniform8); \
	sh $(ROOT)/scripts/plot-pareto.sh -y accuracy \
	    -t "sweep of $(notdir $(CONFIGS)): every front model of $(words $(JOBS)) jobs" \
	    -u $$((64 * w)) -o $(S)/front $(S)/models.tsv

# ------------------------------------------------------------------
# The runners other than make -j: both run scripts/sweep-run.sh task on
# every line of the manifest, then the gather
# ------------------------------------------------------------------
PROGRAMS = $(addprefix $(BIN)/,hgq-train hgq-prune hgq-ebops hgq-sim \
	   hgq-pareto hgq-emit-verilog)
SLURM_OPTS = -c '$(CPUS)' -m '$(MEM)' -t '$(TIME)' \
	     $(if $(PARTITION),-p '$(PARTITION)') \
	     $(if $(MAX_TASKS),-n '$(MAX_TASKS)') \
	     $(if $(SBATCH_FLAGS),-x '$(SBATCH_FLAGS)') $(if $(WAIT),-w)

parallel: $(PROGRAMS) manifest
	$(RUN) parallel $(S) jobs.tsv gather $(PARALLEL_FLAGS)

slurm: $(PROGRAMS) manifest
	$(RUN) slurm $(SLURM_OPTS) $(S) jobs.tsv gather

# ------------------------------------------------------------------
# Batch synthesis of the front models
# ------------------------------------------------------------------
# synth-jobs.tsv: the front models of at most SYNTH_MAX_EBOPS EBOPs,
# <job>/pruned.hgqm as <job>--pruned, <job>/pareto/<m>.hgqm as <job>--<m>
synth-manifest: $(S)/front.tsv
	@awk -F '\t' -v max=$(SYNTH_MAX_EBOPS) ' \
	    NR == 1 { print "#job\tmodel\tebops"; next } \
	    $$2 + 0 <= max + 0 { m = $$1; j = m; sub(/\/.*/, "", j); \
		b = m; sub(/.*\//, "", b); sub(/\.hgqm$$/, "", b); \
		print j "--" b "\t" m "\t" $$2 }' $(S)/front.tsv \
	    > $(S)/synth-jobs.tsv.tmp
	@if cmp -s $(S)/synth-jobs.tsv.tmp $(S)/synth-jobs.tsv; then \
	    rm -f $(S)/synth-jobs.tsv.tmp; \
	else mv $(S)/synth-jobs.tsv.tmp $(S)/synth-jobs.tsv; fi
	@echo "sweep: $$(grep -vc '^#' $(S)/synth-jobs.tsv) models to" \
	    "synthesise in $(S)/synth-jobs.tsv"

# the model of synth job <job>--<m>
synth_model = $(S)/$(firstword $(subst --, ,$*))/$(if $(filter pruned,\
	$(word 2,$(subst --, ,$*))),pruned.hgqm,pareto/$(word 2,$(subst --, ,$*)).hgqm)

$(S)/synth/%/net.v $(S)/synth/%/verilog.json: $$(synth_model) \
    $(BIN)/hgq-emit-verilog $(BIN)/hgq-prune
	@mkdir -p $(@D)
	$(BIN)/hgq-prune -q $(synth_model) | $(BIN)/hgq-emit-verilog \
	    -o $(@D)/net.v --report-file $(@D)/verilog.json

$(S)/synth/%/yosys.json: $(S)/synth/%/net.v $(ROOT)/scripts/synth-yosys.sh
	sh $(ROOT)/scripts/synth-yosys.sh $(SYNTH_FLAGS) $< > $@

jget = grep -o '"$(1)": *[-0-9.eE+]*' '$(2)' | head -n 1 | sed 's/.*: *//'
$(S)/synth/%/row.tsv: $(S)/synth/%/yosys.json $(S)/synth/%/verilog.json \
    $(S)/front.tsv
	@m='$(patsubst $(S)/%,%,$(synth_model))'; \
	f=$$(awk -F '\t' -v m="$$m" '$$1 == m { print $$2 "\t" $$3 "\t" $$6 }' \
	    $(S)/front.tsv); \
	test -n "$$f" || { echo "sweep: $$m is not in $(S)/front.tsv" >&2; exit 1; }; \
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$$m" "$$f" \
	    $$($(call jget,lut_estimate,$(@D)/verilog.json)) \
	    $$($(call jget,lut,$(@D)/yosys.json)) \
	    $$($(call jget,ff,$(@D)/yosys.json)) \
	    $$($(call jget,carry,$(@D)/yosys.json)) > $@

SYNTH_ROWS = $(if $(wildcard $(S)/synth-jobs.tsv),$(shell awk -F '\t' \
	     '!/^\#/ { print "$(S)/synth/" $$1 "/row.tsv" }' $(S)/synth-jobs.tsv))

synth-gather: $$(SYNTH_ROWS)
	@{ printf '#model\tebops\taccuracy\tlut_estimate\temit_lut_estimate\tyosys_lut\tyosys_ff\tyosys_carry\n'; \
	for r in $(SYNTH_ROWS); do cat $$r; done | \
	    sort -t "$$(printf '\t')" -k 2,2n -k 1,1; \
	} > $(S)/synth.tsv.tmp && mv $(S)/synth.tsv.tmp $(S)/synth.tsv
	@cat $(S)/synth.tsv

synth: $(PROGRAMS) synth-manifest
	@$(MAKE) --no-print-directory -f $(SWEEP_MK) synth-gather

synth-parallel: $(PROGRAMS) synth-manifest
	$(RUN) parallel $(S) synth-jobs.tsv synth-gather $(PARALLEL_FLAGS)

synth-slurm: $(PROGRAMS) synth-manifest
	$(RUN) slurm $(SLURM_OPTS) $(S) synth-jobs.tsv synth-gather

# the programs, when this file is used on its own before a build
$(BIN)/hgq-%:
	$(MAKE) -C $(ROOT) -f Makefile $@
