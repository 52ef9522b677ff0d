"""``python -m switchboard_localkube build|images|up``: the local cluster by hand.

``up`` starts the cluster with the images loaded and keeps it until Ctrl-C, then takes it down.
``make test-k8s`` does all of it itself (tests/k8s); this is for looking around.
"""

import argparse
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from switchboard_localkube.build import build_kubernetes
from switchboard_localkube.cluster import Cluster, install_packages
from switchboard_localkube.images import ImageBuilder
from switchboard_localkube.paths import Cache, log
from switchboard_localkube.tools import ensure_tools

REPO = Path(__file__).resolve().parents[4]


def _builder(cache: Cache, tag: str) -> ImageBuilder:
    # `uv run` names its own binary in UV (a `uv` found on PATH may be a pyenv shim script).
    uv = os.environ.get("UV") or shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    nats = Path(sys.executable).parent / "nats-server"
    return ImageBuilder(cache, REPO, tag, Path(uv), nats)


def main() -> int:
    parser = argparse.ArgumentParser(prog="switchboard_localkube")
    parser.add_argument("command", choices=["build", "images", "up"])
    parser.add_argument("--tag", default="0.1.0", help="the services' image tag (appVersion)")
    args = parser.parse_args()
    cache = Cache.from_env()
    install_packages()
    build_kubernetes(cache)
    ensure_tools(cache)
    if args.command == "build":
        return 0
    archives = _builder(cache, args.tag).archives()
    if args.command == "images":
        return 0
    cluster = Cluster(cache)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    cluster.up()
    try:
        cluster.import_images(archives)
        log(
            f"ready: KUBECONFIG={cluster.kubeconfig} {cache.tools / 'kubectl'} get nodes;"
            " Ctrl-C stops"
        )
        stop.wait()
    finally:
        left = cluster.down()
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
