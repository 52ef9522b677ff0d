"""A service process: running it, its routes, settings, health, drain and reports."""

__all__: list[str] = []
