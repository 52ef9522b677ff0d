"""Switchboard's benchmarks: ``make bench`` runs every scenario and rewrites ``bench/REPORT.md``."""
