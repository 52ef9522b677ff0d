import subprocess
from pathlib import Path

from switchboard_localkube.images import ImageBuilder
from switchboard_localkube.paths import Cache

FILES = {
    "docker/Dockerfile": "FROM x\n",
    "pyproject.toml": "[project]\n",
    "uv.lock": "lock\n",
    "services/gateway/src/app.py": "print(1)\n",
    "services/gateway/tests/test_app.py": "def test(): ...\n",
    "libs/localkube/src/switchboard_localkube/cluster.py": "A = 1\n",
}


def _repo(root: Path) -> Path:
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _key(tmp_path: Path, repo: Path) -> str:
    uv = tmp_path / "uv"
    if not uv.exists():
        uv.write_bytes(b"uv binary")
    builder = ImageBuilder(Cache(tmp_path / "cache"), repo, "0.1.0", uv, tmp_path / "nats-server")
    return builder._service_key("base")


def test_the_service_images_key_follows_what_goes_into_an_image(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    first = _key(tmp_path, repo)
    assert _key(tmp_path, repo) == first
    (repo / "libs/localkube/src/switchboard_localkube/cluster.py").write_text("A = 2\n")
    (repo / "services/gateway/tests/test_app.py").write_text("def test_other(): ...\n")
    assert _key(tmp_path, repo) == first, "the cluster's code and tests are in no image"
    (repo / "services/gateway/src/app.py").write_text("print(2)\n")
    assert _key(tmp_path, repo) != first
    (repo / "services/gateway/src/app.py").write_text("print(1)\n")
    (repo / "docker/Dockerfile").write_text("FROM y\n")
    assert _key(tmp_path, repo) != first
