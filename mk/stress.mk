# mk/stress.mk: the writers' stress suite (tests/stress). Included by the Makefile; uses its PY and BUILD.
#   make stress [STRESS_ROUNDS=100] [STRESS_PROCS=4] [STRESS_DRAIN_ROUNDS=6] [STRESS_ARGS=...]
#       concurrency rounds of every writer against itself and the others, a kill -9 at every
#       write step, the fault matrix; prints the figure table, writes build/stress-report.json,
#       exits non-zero when a figure misses its target (0 lost updates, spurious failures,
#       tracebacks, partial states, writes outside the sysroot, debris, hangs).
#       The drain part (tests/stress/drain.py): the maintenance role under tampered plans,
#       hostile guest names and kill -9 (0 guests moved unplanned, on two hosts, lost, debris,
#       false report rows).
#   make test runs short versions (tests/stress/test_stress_short.py, test_stress_drain_short.py).

.PHONY: stress

STRESS_ROUNDS ?= 100
STRESS_PROCS ?= 4
STRESS_DRAIN_ROUNDS ?= 6
STRESS_ARGS ?=

stress: collection ## the writers and the drain under concurrency, kill -9 and faults (figures with targets)
	@mkdir -p $(BUILD)
	$(PY) tests/stress/runner.py --rounds $(STRESS_ROUNDS) --procs $(STRESS_PROCS) --drain-rounds $(STRESS_DRAIN_ROUNDS) --report $(BUILD)/stress-report.json $(STRESS_ARGS)
