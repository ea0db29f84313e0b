# The two commands of README.md: `make study` runs the study (first saying what it will run, and how
# long that takes here: `cnnlab plan --totals`), `make test` the tests;
# `make plan` shows what `make study` would run, how long it would take here, and where its data comes from;
# `make test-fast` is the everyday lane: the tests that take seconds, and one real end-to-end study;
# `make repro` is `dvc repro` after cnnlab's own check of params.yaml (DVC reads it without limits).
# Each first sets up .venv (once; again only when pyproject.toml changes).
VENV := .venv
# The rules call cnnlab and dvc: from .venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# Two test processes: most tests wait on subprocesses (Snakemake, DVC, cnnlab), and a test file's
# fixtures stay in one process (--dist loadfile).
TEST_PROCESSES := 2

.PHONY: study test test-fast plan repro venv

study: venv
	cnnlab plan --totals
	snakemake all

test: venv
	pytest -n $(TEST_PROCESSES) --dist loadfile

test-fast: venv
	pytest -n $(TEST_PROCESSES) --dist loadfile -m "not slow or e2e"

plan: venv
	cnnlab plan

# `cnnlab list` refuses a catalog that is too big, or holds YAML aliases, in about a second; DVC
# would read it whole, and on such a file never answers.
repro: venv
	cnnlab list > /dev/null
	dvc repro

venv: $(VENV)/.installed .dvc/plots/offline.html

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install torch==2.14.1 torchvision==0.29.1
	$(VENV)/bin/pip install -e '.[dev]'
	touch $@

# `dvc plots show`'s page with Vega inline (.dvc/config's plots.html_template), so it draws offline
.dvc/plots/offline.html: $(VENV)/.installed src/cnnlab/pipeline/offline_plots.py
	$(VENV)/bin/python -m cnnlab.pipeline.offline_plots $@
