# diffedu — every target sets itself up: a clean clone needs nothing but python3 (≥ 3.10) and make.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
STAMP := $(VENV)/.diffedu-installed
CHAPTERS := $(sort $(wildcard chapters/[0-9][0-9]_*.py))
NOTEBOOKS := $(CHAPTERS:.py=.ipynb)
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help lab lab-flags work test sync execute bench clean student slides book

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing diffedu with its dev extra ($(TORCH)$(if $(TORCH_INDEX), from $(TORCH_INDEX)))"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)")
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

sync: $(STAMP)  ## pair every chapters/NN_topic.py with its .ipynb (jupytext)
	@echo "==> syncing the jupytext pairs in chapters/"
	$(if $(CHAPTERS),$(PY) -m jupytext --sync --quiet $(CHAPTERS),@echo "    (no chapters yet)")

# `make lab` opens a working folder, never the committed chapters/: work/student/ (EDITION=instructor: work/instructor/),
# one copy of each chapter, made by tools.workdir where none exists yet (a student's own copies are never overwritten).
# JupyterLab's autosave writes there (git-ignored), so the clone stays clean. jupyterlab-settings/overrides.json turns
# off the "Jupyter news?" toast. Localhost only, token auth left on (the default); --allow-root only when run as root.
# tests/test_lab.py starts the server with exactly these flags (read through `make -s lab-flags`).
EDITION ?= student
WORK := work/$(EDITION)
LAB_FLAGS := --ServerApp.root_dir=$(WORK) --ServerApp.ip=127.0.0.1 --LabApp.app_settings_dir=$(abspath jupyterlab-settings) \
	$(if $(filter 0,$(shell id -u)),--allow-root,)

work: sync  ## copy each chapter missing from work/student/ (EDITION=instructor: work/instructor/); keeps yours
	$(PY) -m tools.workdir --edition $(EDITION) --out $(WORK)

lab: work  ## open your copies of the chapters in JupyterLab (EDITION=student, the default, or instructor)
	@echo "==> starting JupyterLab on $(WORK)/ (stop it with Ctrl-C)"
	$(VENV)/bin/jupyter lab $(LAB_FLAGS)

lab-flags:
	@echo $(LAB_FLAGS)

test: $(STAMP)  ## every test: unit tests, the pairing check and nbval over every chapter (quick mode)
	@echo "==> running the unit tests and every chapter under nbval (DIFFEDU_QUICK=1)"
	DIFFEDU_QUICK=1 $(PY) -m pytest -p no:cacheprovider \
		tests $(NOTEBOOKS) --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg --nbval-cell-timeout=300 -q \
		--durations=25  # the 25 slowest tests and cells: where CI's time goes

execute: sync  ## re-run every chapter in quick mode so that the committed outputs are current
	@for nb in $(CHAPTERS:.py=.ipynb); do \
		echo "==> executing $$nb (quick mode)"; \
		DIFFEDU_QUICK=1 $(PY) -m jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=600 $$nb || exit 1; \
		$(PY) -m jupytext --sync --quiet $${nb%.ipynb}.py; \
	done

student: $(STAMP)  ## write student/: every chapter with its solutions replaced by NotImplementedError stubs
	$(PY) -m tools.student --out student

slides: $(STAMP)  ## build a reveal.js deck per chapter into slides/ (opens offline; each heading starts a slide)
	$(PY) -m tools.slides --out slides

book: $(STAMP)  ## render every chapter with its outputs into a static site: _book/index.html
	$(PY) -m tools.book --out _book

bench: $(STAMP)  ## python -m diffedu bench samplers (prints a table)
	$(PY) -m diffedu bench samplers

clean:  ## remove the virtual environment, caches and the built student/, slides/ and _book/ (never work/)
	rm -rf $(VENV) .pytest_cache build *.egg-info student slides _book
