# mk/maintenance.mk: the maintenance (drain) demo. Included by the Makefile.
#   make demo-maintenance   drain kvm-a1 of the demo fleet on the live simulator, print the report

.PHONY: demo-maintenance

demo-maintenance: collection system-deps ## drain kvm-a1 of the demo fleet on the live simulator, print the drain report
	@bash tools/demo_maintenance.sh
