"""Simulation: co-simulation of firmware against the emulator and QONNX (cosim), hls4ml's C
simulation (hls_csim), Verilator's cycle-accurate simulation of the RTL (verilator)."""
