"""Switchboard metrics-collector service."""
