# Set-up: `make install`, then `make book`. Tests: `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= quick
NOTEBOOKS := 01_attacks 02_simclr 03_flows 04_detection 05_splitting 06_finetuning 07_ablations 08_knn_energy \
	09_summary 00_overview
NB_TIMEOUT ?= 14400
PARAMS ?=
EXECUTED := _build/executed/$(PROFILE)
LOCK_PYTHON := $(shell sed -n 's/.*pip-compile with Python \([0-9.]*\)$$/\1/p' requirements.lock)
LIBRARY := $(shell find gssd_utils -name '*.py' 2>/dev/null)

.PHONY: install lock test lint book html notebook reference publish-check bench clean FORCE
.PRECIOUS: $(EXECUTED)/%.ipynb

install: $(VENV)/.installed

# The environment is requirements.lock, every package pinned (transitive ones too) for one Python; the project
# itself goes in without resolving anything. `make lock` re-resolves it from pyproject.toml and constraints.txt.
$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(LOCK_PYTHON)")' || { echo "make install: \
	requirements.lock is resolved for Python $(LOCK_PYTHON) and $(PYTHON) is $$($(PYTHON) -V 2>&1); use make install \
	PYTHON=python$(LOCK_PYTHON), or make lock PYTHON=<yours> to resolve it for yours" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name gssd --display-name "Python (gssd)"
	touch $@

# Re-resolve requirements.lock (pip-tools, in a throw-away environment under _build) after changing pyproject.toml's dependencies or
# constraints.txt's pins; commit the lock with the change, then `make install` from an empty .venv to use it.
lock:
	$(PYTHON) -m venv _build/lock-venv
	_build/lock-venv/bin/python -m pip install -q pip-tools==7.7.0
	_build/lock-venv/bin/pip-compile -q --extra dev --constraint constraints.txt --strip-extras --allow-unsafe \
		--no-emit-find-links --no-emit-index-url --output-file requirements.lock pyproject.toml
	sed -i '/^gssd-utils @ file:/d' requirements.lock  # the dev extra names the project; make install adds it itself

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest

# Papermill writes to a temporary file and only a successful run replaces the executed notebook, so a
# failing notebook stops the build (papermill names the cell) and never overwrites good output. Results go to
# _build/results/$(PROFILE): building the book never changes a tracked file.
$(EXECUTED)/%.ipynb: notebooks/%.ipynb $(LIBRARY) $(VENV)/.installed
	@mkdir -p $(@D)
	@$(BIN)/gssd book-progress --profile $(PROFILE) --notebook $* $(NOTEBOOKS)
	@start=$$(date +%s); $(BIN)/papermill $< $(@D)/partial-$(@F) -k gssd --cwd $(CURDIR) \
		--execution-timeout $(NB_TIMEOUT) --log-output --no-progress-bar -p profile $(PROFILE) $(PARAMS) \
		|| { echo "notebook $< failed at profile $(PROFILE); see the cell named above" >&2; exit 1; }; \
		$(BIN)/gssd book-progress --profile $(PROFILE) --notebook $* --took $$(( $$(date +%s) - start ))
	$(BIN)/python -m gssd_utils.make.injected $(@D)/partial-$(@F)
	mv $(@D)/partial-$(@F) $@

book/%.ipynb: $(EXECUTED)/%.ipynb FORCE
	cp $< $@

book: $(foreach nb,$(NOTEBOOKS),book/$(nb).ipynb)
	$(MAKE) html

html: install
	$(BIN)/jupyter-book build . --builder html
	@echo "open _build/html/index.html"

# One notebook with new parameters, e.g. make notebook NB=01_attacks PARAMS="-p attacks '[\"wanet\"]'"
notebook: install
	@test -n "$(NB)" || { echo "usage: make notebook NB=01_attacks PARAMS='-p name value'" >&2; exit 2; }
	rm -f $(EXECUTED)/$(NB).ipynb
	$(MAKE) book/$(NB).ipynb PARAMS='$(PARAMS)'
	$(MAKE) html

# Refresh the committed reference results of a profile: build its book from a clean checkout of the sources,
# then copy what the build wrote to results/$(PROFILE). Review and commit them yourself.
reference: install
	@git diff --quiet HEAD -- gssd_utils notebooks pyproject.toml constraints.txt requirements.lock Makefile || { echo \
		"make reference: commit the source changes first, so the results name the code that produced them" >&2; \
		exit 2; }
	$(MAKE) book PROFILE=$(PROFILE)
	mkdir -p results/$(PROFILE)
	cp -r _build/results/$(PROFILE)/. results/$(PROFILE)/
	$(BIN)/gssd book-progress --profile $(PROFILE) --keep-reference
	@echo "refreshed results/$(PROFILE) from _build/results/$(PROFILE); review with git diff and commit"

# What the GitHub Pages workflow (.github/workflows/book.yml) builds and publishes: the smoke book.
publish-check: install
	$(MAKE) book PROFILE=smoke
	@test -f _build/html/index.html || { echo "publish-check: no _build/html/index.html" >&2; exit 1; }
	@echo "_build/html is what the workflow publishes"

# Per-stage throughput on this machine (SimCLR and classifier img/s, flow steps/s, UMAP time).
bench: install
	$(BIN)/gssd bench --profile $(PROFILE)

clean:
	rm -rf _build book/*.ipynb
