"""Checks for a package's declared surface (``__all__``), for the tests that pin it."""

import importlib
import pkgutil
from types import ModuleType

__all__ = ["missing_exports", "undeclared_modules"]


def missing_exports(package: ModuleType) -> list[str]:
    """The names ``package.__all__`` lists, more than once or without the package having them."""
    names: list[str] = package.__all__
    repeated = [name for name in names if names.count(name) > 1]
    return sorted(set(repeated) | {name for name in names if not hasattr(package, name)})


def undeclared_modules(package: ModuleType) -> list[str]:
    """The package's modules that declare no ``__all__`` (each says what it offers)."""
    return [
        module.name
        for module in pkgutil.iter_modules(package.__path__)
        if not hasattr(importlib.import_module(f"{package.__name__}.{module.name}"), "__all__")
    ]
