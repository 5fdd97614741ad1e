"""Issue 2 'done when', as a user runs it: `sightline up`, then
`sightline glasses --device a --text hello --jsonl --idle-timeout 3`."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import VENV_BIN

SIGHTLINE = str(VENV_BIN / "sightline")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "Z (zombie)" not in status.read_text()


def _pids_with(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _stack(state: Path) -> dict | None:
    try:
        return json.loads((state / "stack.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _all_ready(state: Path) -> dict | None:
    stack = _stack(state)
    if stack and stack["services"] and all(s["state"] == "ready" for s in stack["services"].values()):
        return stack
    return None


def _glasses(state: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SIGHTLINE, "glasses", "--state-dir", str(state), *args], capture_output=True, text=True, timeout=timeout, cwd=state.parent
    )


DEMO_PHOTO = Path(__file__).resolve().parents[2] / "services/glasses/src/sightline_glasses/demo/media/street.jpg"


def _photo_labels(state: Path) -> dict:
    """`sightline glasses --photo street.jpg --to en --jsonl`: the labels update whose labels are translated."""
    result = _glasses(state, "--device", "a", "--photo", str(DEMO_PHOTO), "--to", "en", "--jsonl", "--idle-timeout", "10", timeout=120)
    assert result.returncode == 0, result.stderr
    updates = [json.loads(line) for line in result.stdout.splitlines()]
    labelled = [u["labels"] for u in updates if u["region"] == "HUD_REGION_LABELS" and u.get("labels", {}).get("labels")]
    translated = [lab for lab in labelled if all(not label.get("translationStatus") for label in lab["labels"])]
    assert translated, f"no translated labels in {updates}"
    return translated[-1]


@pytest.fixture
def taken_port():
    """Hold a port so `sightline up` has to pick another one (as 4222 is taken here)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def stack(tmp_path, taken_port):
    state = tmp_path / ".sightline"
    log = (tmp_path / "up.log").open("w")
    up = subprocess.Popen(
        [SIGHTLINE, "up", "--state-dir", str(state), "--nats-port", str(taken_port)], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        info = _wait_for(lambda: _all_ready(state), 120, "every service ready")
    except AssertionError:
        up.kill()
        raise AssertionError((tmp_path / "up.log").read_text()) from None
    yield up, state, info
    if up.poll() is None:
        up.kill()
        up.wait()


@pytest.mark.slow
def test_up_then_glasses_prints_the_update_then_everything_stops(stack, taken_port):
    up, state, info = stack
    assert not info["nats_url"].endswith(f":{taken_port}"), "a taken port must not be reused"
    assert set(info["services"]) == {"overlay", "asr", "translation", "vision", "assistant", "commerce", "payments"}
    for service in info["services"].values():
        assert httpx.get(service["health_url"]).status_code == 200
        assert "sightline_service_ready" in httpx.get(service["metrics_url"]).text

    result = _glasses(state, "--device", "a", "--text", "hello", "--jsonl", "--idle-timeout", "3")
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    update = json.loads(line)
    assert update["meta"]["deviceId"] == "a"
    assert update["region"] == "HUD_REGION_PANEL"
    assert update["panel"]["text"]["lines"] == ["hello"]
    metrics = httpx.get(info["services"]["overlay"]["metrics_url"]).text
    assert 'sightline_events_handled_total{handler="device_input",outcome="ok",service="overlay"} 1.0' in metrics

    # The assistant's notification ingress, where stack.json says, takes the local key (0600) and no other.
    key_file = Path(info["notify_key_file"])
    assert key_file.stat().st_mode & 0o777 == 0o600
    push = f"{info['notify_url']}/v1/devices/a/notifications"
    body = {"title": "Parcel", "body": "delivered at the door", "priority": "normal"}
    assert httpx.post(push, json=body).status_code == 401
    assert httpx.post(push, json=body, headers={"authorization": "Bearer not-the-key"}).status_code == 401
    pushed = httpx.post(push, json=body, headers={"authorization": f"Bearer {key_file.read_text().strip()}"}, timeout=10)
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["delivery"] in ("shown", "held"), pushed.text
    with grpc.insecure_channel(info["notify_grpc_target"]) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING

    # A photo of a café front (the demo's): its signs come back as English labels over them.
    photo = _photo_labels(state)
    by_source = {label.get("sourceText", ""): " ".join(label["text"]["lines"]) for label in photo["labels"]}
    assert by_source.get("出口") == "Exit", photo
    assert by_source.get("咖啡馆") == "Café", photo
    # Findable afterwards in the wearer's photo library, by the text in it.
    found = subprocess.run(
        [SIGHTLINE, "photos", "search", "--state-dir", str(state), "--device", "a", "出口", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert found.returncode == 0, found.stderr
    assert photo["photoId"] in found.stdout

    # A second stack from the same state dir is refused.
    second = subprocess.run([SIGHTLINE, "up", "--state-dir", str(state)], capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert "already running" in second.stderr

    # Crash a service: the supervisor restarts it and the flow works again.
    os.kill(info["services"]["overlay"]["pid"], signal.SIGKILL)
    restarted = _wait_for(
        lambda: (s := _all_ready(state)) and s["services"]["overlay"]["restarts"] == 1 and s, 60, "overlay restarted and ready"
    )
    assert restarted["services"]["overlay"]["pid"] != info["services"]["overlay"]["pid"]
    # A restarted replica takes the durable over from the killed one: give it longer than a warm stack needs.
    again = _glasses(state, "--device", "a", "--text", "again", "--jsonl", "--idle-timeout", "10")
    assert again.stdout, again.stderr
    assert json.loads(again.stdout.splitlines()[0])["panel"]["text"]["lines"] == ["again"]

    # SIGTERM stops everything: no orphans, no stale stack file.
    children = [s["pid"] for s in restarted["services"].values()]
    nats_pids = _pids_with(str(state / "nats" / "nats-server.conf"))
    assert len(nats_pids) == 1
    up.send_signal(signal.SIGTERM)
    assert up.wait(timeout=60) == 0
    for pid in [*children, *nats_pids]:
        _wait_for(lambda pid=pid: not _alive(pid), 10, f"pid {pid} gone")
    assert not (state / "stack.json").exists()


def test_glasses_without_a_stack_says_how_to_start_one(tmp_path):
    result = _glasses(tmp_path / ".sightline", "--device", "a", "--text", "x")
    assert result.returncode == 1
    assert "sightline up" in result.stderr


def test_glasses_refuses_a_device_id_that_is_not_a_subject_token(tmp_path):
    result = _glasses(tmp_path / ".sightline", "--device", "a.b", "--text", "x")
    assert result.returncode == 2
    assert "invalid device id" in result.stderr


def test_glasses_against_an_unreachable_server_fails_cleanly(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = subprocess.run(
        [SIGHTLINE, "glasses", "--device", "a", "--server", f"nats://127.0.0.1:{port}", "--text", "x"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot reach NATS" in result.stderr
    assert "Traceback" not in result.stderr


def test_sightline_module_entry_point_shows_help():
    result = subprocess.run([sys.executable, "-m", "sightline_cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "glasses" in result.stdout
