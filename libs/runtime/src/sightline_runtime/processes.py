"""Helpers for child processes: free ports, and children that never outlive us."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import socket
import subprocess
import sys

_PR_SET_PDEATHSIG = 1
# Loaded here, in the parent: dlopen in a forked child of a threaded process
# (gRPC's pollers, torch's pool) can find the loader's lock held and abort.
_LIBC = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the caller retries on a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def die_with_parent() -> None:
    """preexec_fn: the kernel sends SIGTERM to the child when its parent dies,
    so a killed supervisor or test run leaves no orphan servers (Linux only)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_process(process: subprocess.Popen | None, *, timeout_s: float = 10.0) -> None:
    """Graceful stop (SIGTERM), SIGKILL if it hangs; a process already gone is left alone."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def cancel_task(task: asyncio.Task) -> None:
    """Cancel a background task and wait until it is gone (a shutdown hook)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
