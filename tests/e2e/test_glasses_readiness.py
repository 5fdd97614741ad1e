"""Issue 8, honest readiness, as a new user runs it: `sightline up`, then at
once `sightline glasses --say`. The glasses wait for the services their
inputs need (their /readyz, found through stack.json) instead of sending
speech nobody listens to yet; a service that is not there, or does not get
ready in time, is named with the reason, and nothing is sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sightline_cli.readiness import Need, in_stack, needed_services
from sightline_cli.stack import ServiceEntry, StackInfo

from tests.conftest import VENV_BIN
from tests.e2e.test_cli_stack import _all_ready, _pids_with, _stack, _wait_for

SIGHTLINE = str(VENV_BIN / "sightline")
PHRASE = "Where is the train station?"


def _unwrapped(text: str) -> str:
    # The console wraps long lines at word boundaries.
    return " ".join(text.split())


def _glasses(state: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SIGHTLINE, "glasses", "--state-dir", str(state), *args], capture_output=True, text=True, timeout=timeout, cwd=state.parent
    )


def _up(home: Path, *services: str) -> tuple[subprocess.Popen, Path]:
    state = home / ".sightline"
    log = (home / "up.log").open("w")
    command = [SIGHTLINE, "up", "--state-dir", str(state)]
    for service in services:
        command += ["--service", service]
    return subprocess.Popen(command, cwd=home, stdout=log, stderr=subprocess.STDOUT), state


def _stop(up: subprocess.Popen) -> None:
    if up.poll() is None:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()


@pytest.mark.parametrize(
    ("inputs", "waited_for"),
    [
        ({"texts": True}, {"overlay": "--text"}),
        ({"speech": True}, {"asr": "--say", "overlay": "--say", "assistant": "--say"}),
        ({"speech": True, "translate": True}, {"asr": "--say", "translation": "--to", "overlay": "--say", "assistant": "--say"}),
        ({"photos": True}, {"vision": "--photo", "overlay": "--photo"}),
        ({"photos": True, "translate": True}, {"vision": "--photo", "translation": "--to", "overlay": "--photo"}),
        ({"translate": True}, {}),
        ({}, {}),
    ],
)
def test_each_input_waits_for_the_services_it_reaches(inputs, waited_for):
    """Speech reaches the assistant (a spoken command is obeyed only while fresh); typed
    text and photos do not, so they never wait for its model to load."""
    needs = needed_services(**{"texts": False, "speech": False, "translate": False, "photos": False} | inputs)
    assert {name: need.flag for name, need in needs.items()} == waited_for
    assert [name for name, need in needs.items() if need.optional] == (["assistant"] if "assistant" in waited_for else [])


def _stack_of(*services: str) -> StackInfo:
    entry = ServiceEntry(pid=1, http_url="", metrics_url="", health_url="", log_file="")
    return StackInfo("", "", "", 1, "", services=dict.fromkeys(services, entry))


def test_the_assistant_is_waited_for_only_in_a_stack_that_runs_it():
    """Captions need no assistant: a stack without it is no reason to refuse speech; one with it is waited for."""
    needs = needed_services(texts=False, speech=True, translate=False, photos=False)
    waited, not_run = in_stack(needs, _stack_of("asr", "overlay"))
    assert list(waited) == ["asr", "overlay"]
    assert list(not_run) == ["assistant"]
    assert "unanswered" in not_run["assistant"].without
    waited, not_run = in_stack(needs, _stack_of("asr", "overlay", "assistant"))
    assert list(waited) == ["asr", "overlay", "assistant"]
    assert not not_run
    # What the inputs cannot do without stays needed, in any stack: its absence is named.
    assert in_stack({"asr": Need("--say")}, _stack_of("overlay")) == ({"asr": Need("--say")}, {})


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    wav = tmp_path_factory.mktemp("speech") / "station.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), "--", PHRASE], check=True, timeout=30)
    return wav


@pytest.mark.slow
def test_up_then_at_once_say_waits_for_asr_and_the_first_utterance_is_captioned(tmp_path, speech):
    up, state = _up(tmp_path)
    try:
        starting = _wait_for(lambda: _stack(state), 60, "stack.json")
        # The race the issue is about: the glasses start while asr is still loading.
        assert starting["services"]["asr"]["state"] != "ready"
        result = _glasses(state, "--device", "a", "--say", str(speech), "--to", "es", "--jsonl", "--idle-timeout", "8", "--wait", "180")
    finally:
        _stop(up)
    assert result.returncode == 0, result.stderr + (tmp_path / "up.log").read_text()[-3000:]
    stderr = _unwrapped(result.stderr)
    assert "waiting up to 180s for" in stderr, stderr
    assert "asr (" in stderr, stderr
    # Speech may be a command: the wait covered the assistant too.
    assert "asr, translation, overlay, assistant ready after" in stderr, stderr

    captions = [u for u in map(json.loads, result.stdout.splitlines()) if u["region"] == "HUD_REGION_CAPTION"]
    finals = [e for u in captions for e in u["caption"]["entries"] if e.get("isFinal")]
    assert finals, f"no final caption: {result.stdout}"
    spoken = " ".join(" ".join(e["source"]["lines"]) for e in finals).lower()
    assert "train station" in spoken, spoken
    translated = [e["translation"] for e in finals if e.get("translation", {}).get("lines")]
    assert translated, finals
    assert translated[-1]["language"] == "es", finals


@pytest.fixture(scope="module")
def overlay_only(tmp_path_factory):
    """A stack running only the overlay: the glasses' text works, speech and photos cannot."""
    home = tmp_path_factory.mktemp("overlay-only")
    up, state = _up(home, "overlay")
    try:
        info = _wait_for(lambda: _all_ready(state), 120, "overlay ready")
    except AssertionError:
        _stop(up)
        raise AssertionError((home / "up.log").read_text()) from None
    yield state, info
    _stop(up)


def test_a_service_the_stack_does_not_run_is_named_at_once_and_nothing_is_sent(overlay_only, speech, tmp_path):
    state, _ = overlay_only
    photo = Path(__file__).resolve().parents[2] / "services/glasses/src/sightline_glasses/demo/media/street.jpg"
    cases = {
        ("--say", str(speech)): "not running in this stack: asr (for --say)",
        ("--say", str(speech), "--to", "zh"): "not running in this stack: asr (for --say), translation (for --to)",
        ("--photo", str(photo)): "not running in this stack: vision (for --photo)",
    }
    for args, message in cases.items():
        started = time.monotonic()
        result = _glasses(state, "--device", "absent", *args, "--wait", "60")
        assert result.returncode == 1, result.stderr
        assert message in _unwrapped(result.stderr), result.stderr
        assert "nothing was sent" in _unwrapped(result.stderr)
        assert "Traceback" not in result.stderr
        if "--say" in args:
            # The assistant is not in this stack either, but captions do not need it: said, not refused for.
            assert "assistant is not part of this stack: spoken commands" in _unwrapped(result.stderr), result.stderr
            assert "assistant (for" not in result.stderr
        # Waiting cannot bring a service the stack does not run: no 60 s wait.
        assert time.monotonic() - started < 20
    assert not (state / "edge" / "absent").exists(), "no edge was started, nothing queued"


def test_a_service_that_does_not_answer_is_named_with_the_reason_after_the_wait(overlay_only):
    state, info = overlay_only
    overlay = info["services"]["overlay"]["pid"]
    os.kill(overlay, signal.SIGSTOP)  # alive, listening, but answering nothing
    try:
        started = time.monotonic()
        result = _glasses(state, "--device", "frozen", "--text", "hi", "--wait", "3")
        elapsed = time.monotonic() - started
    finally:
        os.kill(overlay, signal.SIGCONT)
    assert result.returncode == 1, result.stderr
    stderr = _unwrapped(result.stderr)
    assert "not ready after 3s: overlay (/readyz did not answer in 2s)" in stderr, stderr
    assert "overlay.log" in stderr, "the message points at the service's log"
    assert elapsed >= 3
    assert not (state / "edge" / "frozen").exists()

    # Answering again: the same command goes through.
    _wait_for(lambda: _all_ready(state), 30, "overlay ready again")
    again = _glasses(state, "--device", "frozen", "--text", "hi", "--jsonl", "--idle-timeout", "3")
    assert again.returncode == 0, again.stderr
    assert ["hi"] in [json.loads(line).get("panel", {}).get("text", {}).get("lines") for line in again.stdout.splitlines()]


def test_the_glasses_wait_for_a_service_and_go_on_once_it_answers(overlay_only, tmp_path):
    state, info = overlay_only
    overlay = info["services"]["overlay"]["pid"]
    os.kill(overlay, signal.SIGSTOP)
    stdout, stderr = (tmp_path / "out.jsonl").open("w+"), (tmp_path / "err.txt").open("w+")
    command = [SIGHTLINE, "glasses", "--state-dir", str(state), "--device", "patient", "--text", "worth the wait"]
    try:
        glasses = subprocess.Popen(
            [*command, "--jsonl", "--idle-timeout", "3", "--wait", "60"],
            stdout=stdout,
            stderr=stderr,
            cwd=state.parent,
        )
        _wait_for(lambda: "waiting up to 60s for overlay" in _unwrapped((tmp_path / "err.txt").read_text()), 30, "the glasses waiting")
        time.sleep(2)
        assert glasses.poll() is None, "still waiting, not given up"
    finally:
        os.kill(overlay, signal.SIGCONT)
    assert glasses.wait(timeout=60) == 0, (tmp_path / "err.txt").read_text()
    assert "overlay ready after" in _unwrapped((tmp_path / "err.txt").read_text())
    panels = [json.loads(line).get("panel", {}).get("text", {}).get("lines") for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert ["worth the wait"] in panels


def test_a_failing_readiness_check_is_named(tmp_path):
    """The hub gone under a running overlay: its /readyz fails the broker check and says so."""
    up, state = _up(tmp_path, "overlay")
    try:
        _wait_for(lambda: _all_ready(state), 120, "overlay ready")
        [hub] = _pids_with(str(state / "nats" / "nats-server.conf"))
        os.kill(hub, signal.SIGKILL)
        result = _glasses(state, "--device", "cut-off", "--text", "hi", "--wait", "3")
    finally:
        _stop(up)
    assert result.returncode == 1, result.stderr
    assert "not ready after 3s: overlay (not ready: failing check broker)" in _unwrapped(result.stderr), result.stderr
    assert not (state / "edge" / "cut-off").exists()
