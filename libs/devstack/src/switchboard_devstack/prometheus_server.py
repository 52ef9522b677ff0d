"""A real Prometheus (Debian's ``prometheus`` package) scraping a local stack, for tests."""

import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from switchboard_devstack.ports import free_port
from switchboard_devstack.process import ManagedProcess

__all__ = ["PrometheusServer", "prometheus_binary", "promtool_binary"]


def prometheus_binary() -> Path | None:
    found = shutil.which("prometheus")
    return Path(found) if found else None


def promtool_binary() -> Path | None:
    found = shutil.which("promtool")
    return Path(found) if found else None


class PrometheusServer:
    """Scrapes ``targets`` (job name -> ``host:port``) every second, evaluates ``rule_files``."""

    def __init__(
        self,
        data_dir: Path,
        targets: Mapping[str, str],
        rule_files: tuple[Path, ...] = (),
        log_file: Path | None = None,
    ) -> None:
        binary = prometheus_binary()
        if binary is None:
            raise FileNotFoundError("prometheus not found: run scripts/system-deps.sh")
        self.port = free_port()
        self.config_file = data_dir / "prometheus.yml"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path.resolve()) for path in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in targets.items()
            ],
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        # JSON is YAML: no YAML writer needed.
        self.config_file.write_text(json.dumps(config, indent=2))
        self._process = ManagedProcess(
            "prometheus",
            [
                str(binary),
                f"--config.file={self.config_file}",
                f"--storage.tsdb.path={data_dir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            log_file=log_file,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self._process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._process.running():
                raise RuntimeError("prometheus exited during start-up; see its log")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"prometheus was not ready within {timeout} s")

    def stop(self) -> None:
        self._process.stop()

    async def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>``; the ``data`` of a successful answer."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            response = await http.get(f"/api/v1/{path}", params=params)
        body = response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus /api/v1/{path} {params}: {body}")
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's vector result: ``[{"metric": {...}, "value": [t, "v"]}, ...]``."""
        data = await self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result
