"""Switchboard persistence service."""
