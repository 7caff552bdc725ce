# mk/simulator.mk: the AP host simulator (tests/apsim). Included by the Makefile; uses its PY,
# PYTHONPATH and PYTEST_ARGS.
#   make test-sim                        the simulator's own tests (tests/simulator)
#   make sim-mount [FLEET=...] [SIM_DIR=...]   serve a fleet live through FUSE (background)
#   make sim-unmount [SIM_DIR=...]       unmount it and wait for the server to exit
#   make sim-shell HOST=kvm-a1           a shell whose /sys and /etc/mdevctl.d are that host's

.PHONY: test-sim sim-mount sim-unmount sim-shell

FLEET ?= tests/fleets/demo.yml
SIM_DIR ?= $(ROOT)/build/sim

test-sim: collection ## the simulator's own tests
	$(PY) -m pytest -p no:cacheprovider -n 2 tests/simulator $(PYTEST_ARGS)

sim-mount: collection ## serve a fleet live through FUSE (FLEET=..., SIM_DIR=...)
	$(PY) -m apsim mount $(FLEET) $(SIM_DIR) --background --pidfile $(SIM_DIR).pid

sim-unmount: ## unmount it (SIM_DIR=...)
	$(PY) -m apsim unmount $(SIM_DIR)

sim-shell: ## a shell whose /sys and /etc/mdevctl.d are a simulated host's (HOST=...)
	@test -n "$(HOST)" || { echo "usage: make sim-shell HOST=<host of the mounted fleet>"; exit 2; }
	$(PY) -m apsim ns-exec $(SIM_DIR)/$(HOST) -- $${SHELL:-/bin/sh}
