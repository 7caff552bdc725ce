# s390x.vfio_ap — one entry point for people and CI.
#   make demo    set up, then run the main job on the bundled simulated fleet
#   make test    everything a change must pass (unit, simulator, system tests: playbooks on simulated hosts, over SSH)
#   make bench   benchmarks (figures, never pass/fail on time)
#   make stress  the writers' stress suite (concurrency, kill -9, faults; figures with targets)

SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(CURDIR)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
PYENV_ROOT ?= /root/.pyenv
# Python 3.11 for the controller venv: the pyenv build if present, else python3.11, else python3.
BASE_PYTHON ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.11*/bin/python3.11) $(shell command -v python3.11) $(shell command -v python3))
COLLECTIONS := $(ROOT)/.collections
COLL_LINK := $(COLLECTIONS)/ansible_collections/s390x/vfio_ap
BUILD := $(ROOT)/build
PYTEST_ARGS ?=
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_PYTHON_INTERPRETER := $(PY)
export PYTHONPATH := $(COLLECTIONS):$(ROOT)/tests
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_DEPRECATION_WARNINGS := 0

.PHONY: help venv collection system-deps demo test test-unit bench clean

help: ## this list
	@echo "make <target>:"
	@sed -n 's/^\([a-z][a-z-]*\):.*## \(.*\)/\1|\2/p' $(MAKEFILE_LIST) | awk -F'|' '{ printf "  %-18s %s\n", $$1, $$2 }'


$(VENV)/.stamp: tests/requirements/test.txt requirements.txt
	@test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r tests/requirements/test.txt -r requirements.txt
	@touch $@

venv: $(VENV)/.stamp

# The collection is "installed" by a link from a collections path inside the tree to the checkout.
collection: venv ## the venv (.venv) and the collection linked into .collections/
	@mkdir -p $(dir $(COLL_LINK))
	@test -L $(COLL_LINK) || ln -sfn ../../.. $(COLL_LINK)

system-deps:
	@bash tools/bootstrap-system.sh

demo: collection ## audit the bundled simulated fleet, print the summary and where the reports are
	@bash tools/demo.sh

test: collection system-deps ## everything a change must pass: unit, simulator, system tests, playbooks over SSH
	$(PY) -m pytest -p no:cacheprovider -n 2 --dist loadfile --durations=15 tests $(PYTEST_ARGS)

test-unit: collection ## the unit tests only
	$(PY) -m pytest -p no:cacheprovider tests/unit $(PYTEST_ARGS)

bench: collection system-deps ## benchmarks (BENCH=facts,audit,audit-ssh,plan,...; figures, never pass/fail on time)
	$(PY) tests/bench/run.py

clean: ## remove the venv, the collection link, build/ and test output
	rm -rf $(VENV) $(COLLECTIONS) $(BUILD) tests/output .pytest_cache

-include mk/*.mk
