"""The edge node: the nats-server that runs on the glasses.

A leaf node of the hub with a JetStream domain of its own (edge-<device>)
and its own store under the state dir, so it keeps working when the link
drops and keeps its data across restarts. The agent connects only to it.
The leaf remote neither exports nor imports the durable up-link subjects:
they reach the hub by JetStream sourcing only (see sightline_runtime.streams).
A live copy sent up would be stored twice at the hub; one coming down (a
direct client publishing on the hub) would land in this edge's outbox and be
sourced back up.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import IO

from sightline_runtime import streams, subjects
from sightline_runtime.natsserver import NatsServer, NatsServerConfig, leaf_remote

from sightline_glasses.photo_upload import OUTBOX, PROGRESS
from sightline_glasses.settings import EdgeSettings

# Published on the edge, stored in its outbox, sourced by the hub: never sent live either way.
UPLINK_SUBJECTS = tuple(f"glasses.*.up.{kind}" for kind in streams.UPLINK_KINDS)
# The edge's own stores (photo outbox, upload progress): nobody on the hub writes into them.
LOCAL_SUBJECTS = (f"$O.{OUTBOX}.>", f"$KV.{PROGRESS.name}.>")


class EdgeBusy(RuntimeError):
    """Another process runs these glasses' edge on the same store."""


def edge_store_dir(state_dir: Path, device_id: str) -> Path:
    return state_dir / "edge" / subjects.check_device_id(device_id)


def _read_secret(path: str) -> str:
    return Path(path).read_text().strip()


class EdgeNode:
    def __init__(
        self, device_id: str, store_dir: Path, *, settings: EdgeSettings | None = None, leaf_urls: list[str] | None = None
    ) -> None:
        self.device_id = subjects.check_device_id(device_id)
        self.settings = settings or EdgeSettings()
        self.store_dir = store_dir
        self.leaf_urls = leaf_urls if leaf_urls is not None else self.settings.leaf_urls()
        if not self.leaf_urls:
            raise ValueError("the edge needs the hub's leafnode URL (SIGHTLINE_LEAF_URL or --leaf-url)")
        self.server = NatsServer(self.config())
        self._lock: IO[str] | None = None

    def config(self) -> NatsServerConfig:
        s = self.settings
        tls = {
            key: value
            for key, value in (("ca_file", s.leaf_tls_ca_file), ("cert_file", s.leaf_tls_cert_file), ("key_file", s.leaf_tls_key_file))
            if value
        }
        remote = leaf_remote(
            self.leaf_urls,
            credentials_file=s.leaf_credentials_file or None,
            nkey_seed=_read_secret(s.leaf_nkey_seed_file) if s.leaf_nkey_seed_file else None,
            tls=tls or None,
            deny_exports=UPLINK_SUBJECTS + LOCAL_SUBJECTS,
            deny_imports=UPLINK_SUBJECTS + LOCAL_SUBJECTS,
            ignore_discovered_servers=s.leaf_only_configured_urls,
        )
        return NatsServerConfig(
            store_dir=self.store_dir,
            name=f"edge-{self.device_id}",
            domain=streams.edge_domain(self.device_id),
            jetstream_max_file_store=s.edge_max_store_bytes,
            jetstream_sync_interval=s.edge_sync_interval,
            leaf_remotes=[remote],
            extra={
                "ping_interval": f"{s.leaf_ping_interval_s}s",
                "ping_max": s.leaf_ping_max,
                "pid_file": str(self.store_dir / "nats-server.pid"),
            },
        )

    # --- addresses ---
    @property
    def url(self) -> str:
        return self.server.url

    @property
    def monitor_url(self) -> str:
        return self.server.monitor_url

    # --- lifecycle ---
    def start(self, *, timeout_s: float = 15.0) -> EdgeNode:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self._acquire()
        try:
            self._wait_for_previous_server(timeout_s)
            self.server.start(timeout_s=timeout_s)
        except BaseException:
            self._release()
            raise
        return self

    def stop(self) -> None:
        self.server.stop()
        self._release()

    def kill(self) -> None:
        """Crash the edge server (SIGKILL), as a chaos test does."""
        self.server.kill()
        self._release()

    def leaf_up(self) -> bool:
        return self.server.running and self.server.leaf_connections() > 0

    async def wait_leaf(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await asyncio.to_thread(self.leaf_up):
                return True
            await asyncio.sleep(0.05)
        return False

    def __enter__(self) -> EdgeNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- one edge per store ---
    def _acquire(self) -> None:
        # Two servers on one JetStream store would corrupt it. flock is
        # released by the kernel when the holder dies, even by SIGKILL.
        lock = (self.store_dir / "edge.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            lock.close()
            raise EdgeBusy(f"glasses {self.device_id!r} are already running from {self.store_dir} (pid {holder})") from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _wait_for_previous_server(self, timeout_s: float) -> None:
        """A server of a process that died outright gets SIGTERM from the
        kernel and may still be flushing its store: let it finish."""
        pid_file = self.store_dir / "nats-server.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        deadline = time.monotonic() + timeout_s
        while _is_nats_server(pid):
            if time.monotonic() > deadline:
                raise EdgeBusy(f"an old edge server (pid {pid}) still runs on {self.store_dir}")
            time.sleep(0.05)


def _is_nats_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return b"nats-server" in cmdline and "Z (zombie)" not in status
