# The two commands of README.md: `make study` runs the study, `make test` the tests;
# `make plan` shows what `make study` would run, how long it would take here, and where its data comes from.
# Both first set up .venv (once; again only when pyproject.toml changes).
VENV := .venv
# The rules call cnnlab and dvc: from .venv.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: study test plan venv

study: venv
	snakemake all --workflow-profile workflow/profiles/default

test: venv
	pytest

plan: venv
	cnnlab plan

venv: $(VENV)/.installed .dvc/plots/offline.html

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install torch==2.14.1 torchvision==0.29.1
	$(VENV)/bin/pip install -e '.[dev]'
	touch $@

# `dvc plots show`'s page with Vega inline (.dvc/config's plots.html_template), so it draws offline
.dvc/plots/offline.html: $(VENV)/.installed src/cnnlab/pipeline/offline_plots.py
	$(VENV)/bin/python -m cnnlab.pipeline.offline_plots $@
