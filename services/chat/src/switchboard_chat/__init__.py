"""Switchboard chat service."""
