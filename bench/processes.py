"""A Sightline service run as its own process for a benchmark: the same
entry point as production, so its event loop competes with nothing here."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sightline_runtime.processes import free_port


class ServiceProcess:
    def __init__(self, name: str, hub_url: str, log: Path, **env: str) -> None:
        self.name = name
        self.port = free_port()
        self.log = log
        environment = (
            os.environ
            | {
                "SIGHTLINE_NATS_URL": hub_url,
                "SIGHTLINE_HTTP_PORT": str(self.port),
                "SIGHTLINE_HTTP_HOST": "127.0.0.1",
                "SIGHTLINE_LOG_LEVEL": "WARNING",
            }
            | env
        )
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"sightline_{name}"], env=environment, stdout=out, stderr=subprocess.STDOUT
            )

    async def ready(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited during start-up:\n{self.log.read_text()[-3000:]}")
                try:
                    if (await client.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready:\n{self.log.read_text()[-3000:]}")

    def metrics_text(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
