# mk/rolling.mk: the rolling maintenance demo. Included by the Makefile.
#   make demo-rolling   roll the demo fleet host by host on the live simulator (drain, reboot, check,
#                       start again), print the run report

.PHONY: demo-rolling

demo-rolling: collection system-deps ## roll the demo fleet host by host on the live simulator (drain, reboot, check, return), print the run report
	@bash tests/demo_rolling.sh
