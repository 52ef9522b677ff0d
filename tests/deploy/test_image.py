"""docker/Dockerfile: pinned, non-root, and its install steps give each service a working entry.

There is no Docker daemon here, so the build stage's own `uv sync` steps, read from the
Dockerfile, are run outside Docker into a fresh virtual env per service.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.chart import REPO_ROOT, SERVICES

DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


def instructions(text: str) -> list[tuple[str | None, str, str]]:
    """(stage, INSTRUCTION, arguments) for every instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    ))  # fmt: skip
    found: list[tuple[str | None, str, str]] = []
    stage: str | None = None
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, arguments = line.strip().partition(" ")
        if keyword.upper() == "FROM":
            stage = arguments.split()[-1] if " AS " in arguments.upper() else None
        found.append((stage, keyword.upper(), " ".join(arguments.split())))
    return found


INSTRUCTIONS = instructions(DOCKERFILE.read_text(encoding="utf-8"))


def _stage(name: str) -> list[tuple[str, str]]:
    return [(keyword, args) for stage, keyword, args in INSTRUCTIONS if stage == name]


def _env(stage: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in _stage(stage):
        if keyword == "ENV":
            for item in shlex.split(args):
                name, _, value = item.partition("=")
                env[name] = value
    return env


def uv_sync_steps(service: str) -> list[list[str]]:
    """The build stage's `uv sync` commands, for ``service``, as argv lists."""
    steps = []
    for keyword, args in _stage("build"):
        if keyword != "RUN":
            continue
        words = [word for word in shlex.split(args) if not word.startswith("--mount=")]
        for command in " ".join(words).split("&&"):
            argv = shlex.split(command.replace("${SERVICE}", service))
            if argv[:2] == ["uv", "sync"]:
                steps.append(argv)
    return steps


def _uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run(
        [sys.executable, "-m", "uv", "--version"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("uv is not installed (neither `uv` on PATH nor `python -m uv`)")
    return [sys.executable, "-m", "uv"]


def test_base_images_are_pinned_to_exact_versions() -> None:
    defaults = dict(
        args.split("=", 1) for _, keyword, args in INSTRUCTIONS if keyword == "ARG" and "=" in args
    )
    images = {name: image for name, image in defaults.items() if name.endswith("_IMAGE")}
    assert set(images) == {"PYTHON_IMAGE", "UV_IMAGE"}
    for image in images.values():
        assert re.search(r":\d+\.\d+\.\d+", image), f"{image} is not pinned to an exact version"
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv
    assert images["UV_IMAGE"].endswith(f":{makefile_uv.group(1)}"), "one uv version everywhere"


def test_runtime_is_the_default_target_and_runs_as_a_non_root_user() -> None:
    stages = [stage for stage, keyword, _ in INSTRUCTIONS if keyword == "FROM"]
    assert stages[-1] == "runtime"
    runtime = _stage("runtime")
    assert ("USER", "10001:10001") in runtime
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"], "only the virtual env, no sources"


def test_dependencies_layer_comes_before_the_sources() -> None:
    build = _stage("build")
    first_sync = next(i for i, (k, a) in enumerate(build) if k == "RUN" and "uv sync" in a)
    first_source = next(i for i, (k, a) in enumerate(build) if k == "COPY" and "libs" in a)
    assert "--no-install-workspace" in build[first_sync][1]
    assert first_sync < first_source


def test_build_context_is_an_allow_list() -> None:
    lines = [line for line in DOCKERIGNORE.read_text().splitlines() if line and line[0] != "#"]
    assert lines[0] == "*"
    assert {"!pyproject.toml", "!uv.lock", "!libs/", "!services/"} <= set(lines)


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_install_steps_give_a_working_entry_point(service: str, tmp_path: Path) -> None:
    uv = _uv()
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env |= _env("build") | {"UV_PROJECT_ENVIRONMENT": str(venv)}
    subprocess.run(
        [*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], env=env, check=True
    )
    steps = uv_sync_steps(service)
    assert len(steps) == 2
    for argv in steps:
        assert f"switchboard-{service}" in argv
        subprocess.run([*uv, *argv[1:]], cwd=REPO_ROOT, env=env, check=True, capture_output=True)

    assert (venv / "bin" / f"switchboard-{service}").is_file()
    module = f"switchboard_{service.replace('-', '_')}"
    python = str(venv / "bin" / "python")
    where = subprocess.run(
        [python, "-c", f"import {module}.app as app; print(app.__file__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), "installed, not linked to the sources"
    others = subprocess.run(
        [python, "-c", "import switchboard_devstack"], capture_output=True, check=False
    )
    assert others.returncode != 0, "only this service and what it depends on are installed"
