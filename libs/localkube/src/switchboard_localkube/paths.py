"""Where the cluster keeps what outlives a run (binaries, images, tools) and what does not."""

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_CACHE", "Cache", "log"]

DEFAULT_CACHE = Path("/var/cache/switchboard-k8s")
_STARTED = time.monotonic()


def log(message: str) -> None:
    """One progress line on stderr, stamped with seconds since this process started."""
    print(f"[localkube {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Cache:
    """``SWITCHBOARD_K8S_CACHE`` (default ``/var/cache/switchboard-k8s``): kept between runs."""

    root: Path

    @classmethod
    def from_env(cls) -> "Cache":
        cache = cls(Path(os.environ.get("SWITCHBOARD_K8S_CACHE", str(DEFAULT_CACHE))))
        for folder in (cache.root, cache.bin, cache.images, cache.logs, cache.tools):
            folder.mkdir(parents=True, exist_ok=True)
        return cache

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def tools(self) -> Path:
        return self.root / "tools"

    @property
    def logs(self) -> Path:
        return self.root / "logs"
