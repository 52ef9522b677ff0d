"""Logs, traces and metrics of a service process."""

__all__: list[str] = []
