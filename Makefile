# icdbench — a newcomer needs only `make bench` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Default model: RAC, the suite's reference model. At the cpu profile it is undertrained (about 8 minutes on
# one core; micro-F1 0.20 on synth-icd10 against CAML's 0.46, see leaderboards/README.md); MODEL=caml for a
# converged word model.
MODEL  ?= rac
SPLIT  ?= synth-icd10
PROFILE ?= cpu
SEEDS  ?= 0
# Raw files for MIMIC splits: make bench MODEL=rac SPLIT=mimic4-icd10 MIMIC_DIR=/path/to/physionet
# (other corpora: SOURCE=PATH, e.g. SPLIT=cmc2007 SOURCE=2007ChallengeTrainData.xml [FOLDS=K])
SOURCE_ARG := $(if $(MIMIC_DIR),--source $(MIMIC_DIR),$(if $(SOURCE),--source $(SOURCE),))

.PHONY: install test test-all lint bench prepare leaderboard regress clean

# constraints.txt pins every dependency to the versions the committed numbers were made with
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
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

# Rebuild leaderboards/ from the committed records; RUN=1 first runs every missing record. All 100 committed cpu
# records (20 models; 3 seeds on synth-icd10, 1 on synth-icd10-50 and synth-radiology) took 10.3 hours of one
# core (sum of their wall times, one thread each, two runs side by side): RUN=1 from nothing needs about that.
leaderboard: install
	$(BIN)/icdbench leaderboard $(if $(RUN),--run,)

# Re-run every model at the ci profile and compare with leaderboards/ci.csv; UPDATE=1 rewrites it.
regress: install
	$(BIN)/icdbench regress $(if $(UPDATE),--update,)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
