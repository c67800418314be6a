"""Synthesis: yosys (yosys), the vendor tools when installed (vendor) and their reports
(vendor_reports)."""
