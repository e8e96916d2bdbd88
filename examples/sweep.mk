# examples/sweep.mk - a beta x seed sweep with make: one independent job
# per (beta_max, seed), each trained, pruned, costed and simulated, then
# one table and one Pareto plot of them all.
#
#   make -f examples/sweep.mk -j2 BETAS="1e-6 3e-6 1e-5" SEEDS="1 2" \
#       BASE=examples/fmnist.yaml EPOCHS=10
#   make sweep BETAS=...          the same, after building the programs
#
# Job <beta>-<seed> lives in $(S)/<beta>-<seed>/ (S = runs/sweep):
#
#   config.yaml   BASE with `seed:` set to the job's seed
#   model.hgqm    hgq-train -c config.yaml --beta-max BETA --seed SEED
#                 [--epochs EPOCHS] [--limit-train LIMIT] --threads THREADS,
#                 with its Pareto front in pareto/ and its log in train.tsv
#                 (progress in train.log)
#   pruned.hgqm   hgq-prune
#   ebops.json    hgq-ebops --json
#   sim.json      hgq-sim --report json on TEST_X and TEST_Y
#   result.tsv    one row: job, beta_max, seed, ebops, test_acc,
#                 lut_estimate, n_test
#
# and the sweep: $(S)/results.tsv (every row, by EBOPs) and
# $(S)/pareto.png and .svg (test accuracy against EBOPs, one colour per
# beta_max, the front of all jobs, the uniform 8-bit EBOPs of the network).
#
# A job depends only on BASE, its own files and the programs, so make -j
# runs jobs side by side, a rerun redoes only what is missing or out of
# date, and an interrupted training resumes from the job's partial.hgqm.
# THREADS (1 by default) fixes the training threads, so that a job gives
# the same model however many run at once (the result depends on the
# thread count).  On a cluster, one array task makes one job:
#
#   make -f examples/sweep.mk BETAS=... SEEDS=... jobs   # one target a line
#   sbatch --array=1-6 --cpus-per-task=1 --wrap 'make -f examples/sweep.mk \
#       BETAS="..." SEEDS="..." $(make -s -f examples/sweep.mk BETAS="..." \
#       SEEDS="..." jobs | sed -n "$${SLURM_ARRAY_TASK_ID}p")'
#   make -f examples/sweep.mk BETAS=... SEEDS=...        # then the table
#
# Variables:
#   BASE          the base config [examples/fmnist.yaml]
#   BETAS, SEEDS  the lists [1e-6 3e-6 1e-5] [1 2]
#   EPOCHS        --epochs for every job [the config's]
#   LIMIT         --limit-train for every job [all rows]
#   THREADS       --threads of hgq-train [1]
#   TRAIN_FLAGS   more hgq-train flags
#   TEST_X, TEST_Y  test data [data.test_x and data.test_y of BASE]
#   S             the sweep's folder [runs/sweep]
#   BIN           the programs [build/bin; built by the Makefile if missing]

BASE	?= examples/fmnist.yaml
BETAS	?= 1e-6 3e-6 1e-5
SEEDS	?= 1 2
EPOCHS	?=
LIMIT	?=
THREADS	?= 1
TRAIN_FLAGS ?=
S	?= runs/sweep
BIN	?= build/bin
cfg_key = $(shell sed -n 's/^[[:space:]]*$(1):[[:space:]]*\([^[:space:]\#]*\).*/\1/p' \
	  '$(BASE)' 2>/dev/null | head -n 1 | tr -d "\"'")
TEST_X	?= $(call cfg_key,test_x)
TEST_Y	?= $(call cfg_key,test_y)

JOBS	:= $(foreach b,$(BETAS),$(foreach s,$(SEEDS),$(b)-$(s)))
RESULTS	:= $(JOBS:%=$(S)/%/result.tsv)
# every file of every job is kept (pattern rules would delete them as
# intermediate files)
.SECONDARY: $(foreach j,$(JOBS),$(addprefix $(S)/$(j)/,config.yaml \
	    model.hgqm pruned.hgqm ebops.json sim.json))
.DELETE_ON_ERROR:
.PHONY: all jobs

all: $(S)/results.tsv $(S)/pareto.png $(S)/pareto.svg

jobs:
	@for r in $(RESULTS); do echo $$r; done

# the job's beta and seed from its name: the seed follows the last '-'
JOB_VARS = job=$*; seed=$${job\#\#*-}; beta=$${job%-*}

$(S)/%/config.yaml: $(BASE)
	@mkdir -p $(@D)
	@$(JOB_VARS); \
	{ echo "# sweep job $$job: $(BASE) with seed $$seed," \
	    "trained with --beta-max $$beta"; \
	grep -q '^seed:' $(BASE) || echo "seed: $$seed"; \
	sed "s/^seed:.*/seed: $$seed/" $(BASE); } > $@

$(S)/%/model.hgqm: $(S)/%/config.yaml $(BIN)/hgq-train
	@$(JOB_VARS); d=$(@D); p=$$d/partial.hgqm; \
	if [ -f $$p ] && [ $$p -nt $$d/config.yaml ] && \
	    [ $$p -nt $(BIN)/hgq-train ]; then \
		resume="--resume $$p"; \
	else \
		rm -rf $$p $$d/pareto $$d/train.tsv; resume=""; \
	fi; \
	set -- $(BIN)/hgq-train -c $$d/config.yaml --beta-max $$beta \
	    --seed $$seed $(if $(EPOCHS),--epochs $(EPOCHS)) \
	    $(if $(LIMIT),--limit-train $(LIMIT)) --threads $(THREADS) \
	    $(TRAIN_FLAGS) --pareto-dir $$d/pareto --log $$d/train.tsv \
	    -o $$p $$resume; \
	echo "$$*"; \
	"$$@" 2> $$d/train.log || { tail -n 5 $$d/train.log >&2; exit 1; }; \
	tail -n 1 $$d/train.log; \
	mv $$p $@

$(S)/%/pruned.hgqm: $(S)/%/model.hgqm $(BIN)/hgq-prune
	$(BIN)/hgq-prune -q -o $@ $<

$(S)/%/ebops.json: $(S)/%/pruned.hgqm $(BIN)/hgq-ebops
	$(BIN)/hgq-ebops --json $< > $@

$(S)/%/sim.json: $(S)/%/pruned.hgqm $(BIN)/hgq-sim
	@test -n '$(TEST_X)' && test -n '$(TEST_Y)' || { echo \
	    "sweep: no test data: set data.test_x and test_y in $(BASE)," \
	    "or TEST_X and TEST_Y" >&2; exit 1; }
	$(BIN)/hgq-sim -i '$(TEST_X)' -l '$(TEST_Y)' --report json $< > $@

$(S)/%/result.tsv: $(S)/%/ebops.json $(S)/%/sim.json \
    scripts/model-metrics.sh
	@$(JOB_VARS); \
	r=$$(sh scripts/model-metrics.sh $(@D)/ebops.json $(@D)/sim.json) && \
	printf '%s\t%s\t%s\t%s\n' $$job $$beta $$seed "$$r" > $@

$(S)/results.tsv: $(RESULTS)
	@{ printf '#job\tbeta_max\tseed\tebops\ttest_acc\tlut_estimate\tn_test\n'; \
	cat $(RESULTS) | sort -t "$$(printf '\t')" -k 4,4n; } > $@
	@cat $@

# the uniform 8-bit reference: 64 x the weights of the unpruned network
$(S)/pareto.png $(S)/pareto.svg &: $(S)/results.tsv scripts/plot-pareto.sh
	@w=$$($(BIN)/hgq-ebops --json $(S)/$(firstword $(JOBS))/model.hgqm | \
	    grep -o '"weights": *[0-9]*' | head -n 1 | sed 's/.*: *//'); \
	test -n "$$w" || exit 1; \
	echo "sh scripts/plot-pareto.sh -g beta_max -u $$((64 * w)) -o $(S)/pareto $(S)/results.tsv"; \
	sh scripts/plot-pareto.sh -t "sweep of $(notdir $(BASE)): test accuracy against EBOPs" \
	    -g beta_max -u $$((64 * w)) -o $(S)/pareto $(S)/results.tsv

# the programs, when this file is used on its own before a build
$(BIN)/hgq-%:
	$(MAKE) -f Makefile $@
