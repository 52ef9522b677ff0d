"""Switchboard notification service."""
