# mk/release.mk: release quality (issue 7). Included by the Makefile; uses its ROOT, BUILD,
# COLLECTIONS, BASE_PYTHON and PYENV_ROOT. Every target installs its own tools, pinned in
# tests/requirements/<name>.txt, into its own venv (.venv-<name>/, git-ignored), and fails when its
# check fails:
#   make sanity         ansible-test sanity (ansible-core 2.19, Python 3.11; compile/import on every
#                       pyenv target Python 3.8-3.13) + our own 3.6/3.7 compile/import check
#   make lint           ansible-lint (production, offline), yamllint, ruff format/check, mypy
#   make docs           Markdown guides -> rst, antsibull-docs lint-collection-docs, docsite in docs/build
#   make build          ansible-galaxy collection build, galaxy-importer (no errors, no warnings),
#                       install the tarball into a fresh path, ansible-doc every plugin, syntax-check
#   make changelog-lint antsibull-changelog lint
#   make ee-introspect  ansible-builder introspect of meta/execution-environment.yml
#   make test-matrix    units + system-test smoke set under ansible-core 2.16 (py3.11) and 2.21 (py3.12),
#                       with the SSH tests' modules on Python 3.6 (2.16) and 3.12 (2.21)

.PHONY: sanity lint docs docs-rst build changelog-lint ee-introspect test-matrix release-tools

# Interpreters. Missing ones are skipped with a one-line message, never silently.
REL_PY311 := $(BASE_PYTHON)
REL_PY312 ?= $(firstword $(wildcard $(PYENV_ROOT)/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null))
# Target Pythons for ansible-test 2.19 compile/import (3.8-3.13) and for our own 3.6/3.7 check.
REL_SANITY_PYTHONS ?= 3.8 3.9 3.10 3.11 3.12 3.13
REL_OLD_PYTHONS ?= 3.6 3.7
rel_pybin = $(firstword $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)) $(shell command -v python$(1) 2>/dev/null))

# The collection as ansible-test and the doc tools need it: a real copy (ansible-test resolves a
# symlink away) under build/<target>/ansible_collections/s390x/vfio_ap, one per target so that
# targets may run side by side. $(call rel_root,<target>) is the collections root of that copy.
rel_root = $(BUILD)/$(1)
rel_coll = $(BUILD)/$(1)/ansible_collections/s390x/vfio_ap
REL_EXCLUDES := --exclude=./.git --exclude='./.venv' --exclude='./.venv-*' --exclude=./.collections \
	--exclude=./build --exclude=./tests/output --exclude=./docs/build --exclude=./.cache \
	--exclude='__pycache__' --exclude='*.pyc' --exclude=./.pytest_cache --exclude=./.mypy_cache \
	--exclude=./.ruff_cache --exclude=./.hypothesis --exclude='*.tar.gz' \
	--exclude=./changelogs/.plugin-cache.yaml
# The copy lies inside this checkout, whose .gitignore hides build/: ansible-test lists files with
# git from the nearest .git upwards, so the copy gets its own (empty) repository.
define rel_copy
	@rm -rf $(call rel_root,$(1)) && mkdir -p $(call rel_coll,$(1))
	@tar -C $(ROOT) $(REL_EXCLUDES) -cf - . | tar -C $(call rel_coll,$(1)) -xf -
	@git -C $(call rel_coll,$(1)) init -q
endef
REL_DIST := $(BUILD)/dist
REL_FRESH := $(BUILD)/fresh
REL_PIP_INSTALL = -m pip install -q --disable-pip-version-check
# pip output goes to a log (this machine's pip config prints a warning per missing local index);
# the log is shown when the install fails.
define rel_venv
	@test -x $(1)/bin/python || $(2) -m venv $(1)
	@echo "installing $(notdir $(1)) from $(3)"
	@$(1)/bin/python $(REL_PIP_INSTALL) $(4) > $(1)/pip.log 2>&1 || { cat $(1)/pip.log; exit 1; }
	@touch $(1)/.stamp
endef

$(ROOT)/.venv-sanity/.stamp: tests/requirements/sanity.txt
	$(call rel_venv,$(@D),$(REL_PY311),$<,-r $<)
$(ROOT)/.venv-lint/.stamp: tests/requirements/lint.txt
	$(call rel_venv,$(@D),$(REL_PY311),$<,-r $<)
$(ROOT)/.venv-docs/.stamp: tests/requirements/docs.txt
	$(call rel_venv,$(@D),$(REL_PY311),$<,-r $<)
$(ROOT)/.venv-build/.stamp: tests/requirements/build.txt
	$(call rel_venv,$(@D),$(REL_PY311),$<,-r $<)
# Test-matrix venvs: the test requirements with their ansible-core line replaced.
$(ROOT)/.venv-2.16/.stamp: tests/requirements/test.txt tests/requirements/core-2.16.txt requirements.txt
	@test -x $(@D)/bin/python || $(REL_PY311) -m venv $(@D)
	@grep -v '^ansible-core' tests/requirements/test.txt > $(@D)/test-nocore.txt
	$(call rel_venv,$(@D),$(REL_PY311),tests/requirements/core-2.16.txt,-r $(@D)/test-nocore.txt -r tests/requirements/core-2.16.txt -r requirements.txt)
$(ROOT)/.venv-2.21/.stamp: tests/requirements/test.txt tests/requirements/core-2.21.txt requirements.txt
	@test -n "$(REL_PY312)" || { echo "test-matrix: Python 3.12 not found (ansible-core 2.21 needs it)"; exit 1; }
	@test -x $(@D)/bin/python || $(REL_PY312) -m venv $(@D)
	@grep -v '^ansible-core' tests/requirements/test.txt > $(@D)/test-nocore.txt
	$(call rel_venv,$(@D),$(REL_PY312),tests/requirements/core-2.21.txt,-r $(@D)/test-nocore.txt -r tests/requirements/core-2.21.txt -r requirements.txt)

release-tools: $(ROOT)/.venv-sanity/.stamp $(ROOT)/.venv-lint/.stamp $(ROOT)/.venv-docs/.stamp \
	$(ROOT)/.venv-build/.stamp $(ROOT)/.venv-2.16/.stamp

# ---------------------------------------------------------------------------------------- sanity
# ansible-test bootstraps pip into each venv from a download we cannot reach; it first looks for a
# cached get_pip_<version>.py, so we write our own offline shim there (pip from ensurepip, then the
# requested install with the machine's pip config restored).
REL_GETPIP_CACHE := $(HOME)/.ansible/test/cache
define REL_GETPIP_SHIM
# Written by s390x.vfio_ap mk/release.mk: offline stand-in for get-pip.py (ansible-test bootstrap).
import ensurepip, os, subprocess, sys
ensurepip.bootstrap(upgrade=True)
env = {k: v for k, v in os.environ.items() if k not in ("PIP_CONFIG_FILE", "ENSUREPIP_OPTIONS")}
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args, env=env))
endef
export REL_GETPIP_SHIM
# pip's progress lines while ansible-test builds its sanity venvs (cached in ~/.ansible/test/venv).
REL_PIP_NOISE := ^WARNING: Location 'file:|^ *(Collecting|Downloading|Installing collected|Successfully|Processing|Looking in|Using cached|Attempting uninstall|Found existing|Uninstalling|━)

sanity: $(ROOT)/.venv-sanity/.stamp $(ROOT)/.venv-2.16/.stamp ## ansible-test sanity, compile/import on Python 3.6-3.13
	$(call rel_copy,sanity)
	@if ls tests/sanity/ignore-*.txt >/dev/null 2>&1; then \
	  echo "sanity: tests/sanity/ignore-*.txt exist; fix the findings instead of ignoring them"; exit 1; fi
	@$(REL_PY311) tests/sanity/oldpy_check.py --collection $(call rel_coll,sanity) \
	  --ansible-from $(ROOT)/.venv-2.16 $(foreach v,$(REL_OLD_PYTHONS),--python $(v)=$(call rel_pybin,$(v)))
	@mkdir -p $(REL_GETPIP_CACHE)
	@for v in 24_2 25_2; do printf '%s\n' "$$REL_GETPIP_SHIM" > $(REL_GETPIP_CACHE)/get_pip_$$v.py; done
	@pypath=""; pyargs=""; \
	for v in $(REL_SANITY_PYTHONS); do \
	  d=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin 2>/dev/null | head -n1); \
	  if [ -n "$$d" ]; then pypath="$$pypath:$$d"; pyargs="$$pyargs $$v"; \
	  else echo "sanity: Python $$v not found under $(PYENV_ROOT)/versions; its compile/import checks are skipped"; fi; \
	done; \
	echo "sanity: ansible-test $$($(ROOT)/.venv-sanity/bin/python -c "from ansible.release import __version__ as v; print(v)"), compile/import on Python$$pyargs"; \
	cd $(call rel_coll,sanity) && PATH="$(ROOT)/.venv-sanity/bin$$pypath:$$PATH" \
	  $(ROOT)/.venv-sanity/bin/ansible-test sanity --venv --color no 2>&1 \
	  | grep --line-buffered -vE "$(REL_PIP_NOISE)"; exit $${PIPESTATUS[0]}

# ------------------------------------------------------------------------------------------ lint
REL_MYPY_PACKAGES := $(foreach p,module_utils plugin_utils filter modules action,-p ansible_collections.s390x.vfio_ap.plugins.$(p))

lint: $(ROOT)/.venv-lint/.stamp collection ## ansible-lint, yamllint, ruff, mypy
	@rc=0; L=$(ROOT)/.venv-lint/bin; \
	echo "--- ansible-lint (production, offline)"; \
	ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) $$L/ansible-lint --offline --profile production --nocolor || rc=1; \
	echo "--- yamllint"; $$L/yamllint -s . || rc=1; \
	echo "--- ruff format --check"; $$L/ruff format --check . || rc=1; \
	echo "--- ruff check"; $$L/ruff check --no-cache . || rc=1; \
	echo "--- mypy"; MYPYPATH=$(COLLECTIONS) $$L/mypy $(REL_MYPY_PACKAGES) || rc=1; \
	exit $$rc

# ------------------------------------------------------------------------------------------ docs
# docs/*.md are the guides' only source; tools/docsite/md2rst.py turns those listed in
# docs/docsite/extra-docs.yml into docs/docsite/rst/guide_*.rst (generated, git-ignored) and
# fails when a docs/*.md is neither listed nor excluded there.
docs-rst: $(ROOT)/.venv-docs/.stamp
	@$(ROOT)/.venv-docs/bin/python tools/docsite/md2rst.py

REL_DOCSITE := $(BUILD)/docsite
REL_DOCS_ENV = PATH=$(ROOT)/.venv-docs/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(call rel_root,docs) PYTHONPATH=
docs: docs-rst ## guides to rst, antsibull-docs lint, the docsite in docs/build
	$(call rel_copy,docs)
	@echo "--- antsibull-docs lint-collection-docs"
	@cd $(call rel_coll,docs) && $(REL_DOCS_ENV) $(ROOT)/.venv-docs/bin/antsibull-docs \
	  lint-collection-docs --plugin-docs --no-skip-rstcheck --check-extra-docs-refs --validate-collection-refs=all .
	@echo "--- docsite"
	@rm -rf $(REL_DOCSITE) && mkdir -p $(REL_DOCSITE)
	@$(REL_DOCS_ENV) $(ROOT)/.venv-docs/bin/antsibull-docs sphinx-init --use-current \
	  --fail-on-error --dest-dir $(REL_DOCSITE) --project 's390x.vfio_ap' --copyright 's390x.vfio_ap developers' \
	  --title 's390x.vfio_ap' s390x.vfio_ap >/dev/null
	@$(REL_DOCS_ENV) $(ROOT)/.venv-docs/bin/python tools/docsite/build_docsite.py $(REL_DOCSITE)
	@rm -rf docs/build && cp -a $(REL_DOCSITE)/build/html docs/build
	@echo "docs: docsite in docs/build/index.html"

changelog-lint: $(ROOT)/.venv-docs/.stamp ## antsibull-changelog lint
	@$(ROOT)/.venv-docs/bin/antsibull-changelog lint

# ----------------------------------------------------------------------------------------- build
REL_IMPORTER_CFG := $(ROOT)/tests/galaxy-importer.cfg
build: $(ROOT)/.venv-build/.stamp docs-rst changelog-lint ee-introspect ## the collection tarball, galaxy-importer, installed ansible-doc and syntax checks
	@rm -rf $(REL_DIST) $(REL_FRESH) && mkdir -p $(REL_DIST) $(REL_FRESH)
	@$(ROOT)/.venv-build/bin/ansible-galaxy collection build --force --output-path $(REL_DIST) $(ROOT)
	@tarball=$$(ls $(REL_DIST)/s390x-vfio_ap-*.tar.gz); \
	bad=$$(tar -tzf $$tarball | grep -E '(^|/)(\.venv[^/]*|\.collections|__pycache__|tests/output|build|tools|\.git|\.hypothesis|\.pytest_cache|\.mypy_cache|\.ruff_cache)(/|$$)' | head); \
	if [ -n "$$bad" ]; then echo "build: the tarball holds files that build_ignore must drop:"; echo "$$bad"; exit 1; fi; \
	echo "--- galaxy-importer $$tarball"; \
	cd $(REL_DIST) && env -u PYTHONPATH -u ANSIBLE_COLLECTIONS_PATH GALAXY_IMPORTER_CONFIG=$(REL_IMPORTER_CFG) \
	  PATH=$(ROOT)/.venv-build/bin:$$PATH \
	  $(ROOT)/.venv-build/bin/python -m galaxy_importer.main $$tarball > importer.log 2>&1; rc=$$?; \
	cat importer.log; \
	if [ $$rc -ne 0 ] || grep -qE '^(WARNING|ERROR)|\b(WARNING|ERROR):' importer.log \
	   || ! grep -q 'Importer processing completed successfully' importer.log; then \
	  echo "build: galaxy-importer reported errors or warnings"; exit 1; fi
	@echo "--- fresh install, ansible-doc, syntax-check"
	@# --force and no PYTHONPATH: the Makefile's PYTHONPATH holds .collections, where the checkout
	@# already provides s390x.vfio_ap 0.1.0 (ansible-galaxy would then install nothing).
	@env -u PYTHONPATH ANSIBLE_COLLECTIONS_PATH=$(REL_FRESH) $(ROOT)/.venv-build/bin/ansible-galaxy collection install \
	  --offline --no-deps --force -p $(REL_FRESH) $(REL_DIST)/s390x-vfio_ap-*.tar.gz > $(REL_DIST)/install.log 2>&1 \
	  || { cat $(REL_DIST)/install.log; exit 1; }
	@$(ROOT)/.venv-build/bin/python tests/sanity/installed_check.py --collections-path $(REL_FRESH) \
	  --bin $(ROOT)/.venv-build/bin

ee-introspect: $(ROOT)/.venv-build/.stamp ## ansible-builder introspect of meta/execution-environment.yml
	$(call rel_copy,ee)
	@$(ROOT)/.venv-build/bin/python tests/sanity/ee_check.py --bin $(ROOT)/.venv-build/bin \
	  --collections-root $(call rel_root,ee)

# ----------------------------------------------------------------------------------- test-matrix
# The unit tests and the system-test smoke set (system tests not marked slow) under the
# oldest and newest supported ansible-core.
# The SSH tests (tests/system/test_ssh_*.py, not slow) run the modules under the target Python
# of each core (helpers/ssh_fleet.py): 3.6 with 2.16, 3.12 with 2.21. --dist loadfile keeps the
# tests of a file, which share one mount and its SSH servers, on one worker.
MATRIX_PYTEST_ARGS ?= -m "not slow" tests/unit tests/system
test-matrix: collection system-deps $(ROOT)/.venv-2.16/.stamp ## tests under ansible-core 2.16 and 2.21
	@echo "--- ansible-core $$($(ROOT)/.venv-2.16/bin/python -c "from ansible.release import __version__ as v; print(v)") on $$($(ROOT)/.venv-2.16/bin/python -V)"
	@ANSIBLE_PYTHON_INTERPRETER=$(ROOT)/.venv-2.16/bin/python $(ROOT)/.venv-2.16/bin/python -m pytest \
	  -p no:cacheprovider -n 2 --dist loadfile $(MATRIX_PYTEST_ARGS)
	@if [ -z "$(REL_PY312)" ]; then echo "test-matrix: Python 3.12 not found; ansible-core 2.21 run skipped"; \
	else $(MAKE) --no-print-directory $(ROOT)/.venv-2.21/.stamp && \
	  echo "--- ansible-core $$($(ROOT)/.venv-2.21/bin/python -c "from ansible.release import __version__ as v; print(v)") on $$($(ROOT)/.venv-2.21/bin/python -V)" && \
	  ANSIBLE_PYTHON_INTERPRETER=$(ROOT)/.venv-2.21/bin/python $(ROOT)/.venv-2.21/bin/python -m pytest \
	  -p no:cacheprovider -n 2 --dist loadfile $(MATRIX_PYTEST_ARGS); fi
