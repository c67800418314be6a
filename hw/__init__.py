"""Hardware side: simulation (sim), synthesis (synth), estimation (estimate), reports (report) and
the FPGA part database (parts)."""
