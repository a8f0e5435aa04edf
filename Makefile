# icdbench — a newcomer needs only `make bench` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Default: RAC, the suite's reference model, on the synthetic radiology split (10 codes, short reports), where
# the cpu profile trains it to convergence (early stopping) within minutes on 2 cores; its row and the prior,
# lr and svm rows of leaderboards/README.md are the yardstick. SPLIT=synth-icd10 for the full label set.
MODEL  ?= rac
SPLIT  ?= synth-radiology
PROFILE ?= cpu
SEEDS  ?= 0
# Raw files for MIMIC splits: make bench MODEL=rac SPLIT=mimic4-icd10 MIMIC_DIR=/path/to/physionet
# (other corpora: SOURCE=PATH, e.g. SPLIT=cmc2007 SOURCE=2007ChallengeTrainData.xml [FOLDS=K])
SOURCE_ARG := $(if $(MIMIC_DIR),--source $(MIMIC_DIR),$(if $(SOURCE),--source $(SOURCE),))

.PHONY: install test test-all lint bench prepare leaderboard regress clean

# constraints.txt pins every dependency to the versions the committed numbers were made with; the ray and slurm
# extras are the engines of `icdbench grid` (its tests run them)
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,ray,slurm]'
	touch $@

install: $(VENV)/.installed

test: install
	$(BIN)/python -m pytest -q -m "not slow"

test-all: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check icdbench tests benchmarks

prepare: install
	$(BIN)/icdbench prepare $(SPLIT) $(SOURCE_ARG)

bench: install
	@$(BIN)/icdbench bench $(MODEL) $(SPLIT) --profile $(PROFILE) --seeds $(SEEDS) $(SOURCE_ARG) $(if $(FOLDS),--folds $(FOLDS),)

# Rebuild leaderboards/ from the committed records; RUN=1 first runs every missing record through the committed
# grid (icdbench/settings/grids/committed.yaml, `icdbench grid committed`: two cores per run, so one at a time on
# two). At the cpu profile each neural run trains until it converges or reaches the profile's time budget
# (train.max_minutes in icdbench/settings/profiles/cpu.yaml);
# the sum of the committed records' wall times says how long RUN=1 from nothing takes
# (benchmarks/perf/convergence.py table --records leaderboards/records lists them).
leaderboard: install
	$(BIN)/icdbench leaderboard $(if $(RUN),--run,)

# Re-run every model at the ci profile and compare with leaderboards/ci.csv; UPDATE=1 rewrites it.
regress: install
	$(BIN)/icdbench regress $(if $(UPDATE),--update,)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
