"""A real run of `sightline up` (overlay and vision), glasses through their
edge node, a device added and revoked: no NKey seed or JWT of any identity
appears in any log or command output, and every secret file is 0600."""

from __future__ import annotations

import re
import stat
import subprocess

from tests.conftest import VENV_BIN
from tests.e2e.test_cli_stack import _all_ready, _wait_for
from tests.edge.helpers import make_photo

SIGHTLINE = str(VENV_BIN / "sightline")
SEED = re.compile(r"\bS[UAO][A-Z2-7]{50,}\b")
JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b")


def test_no_secret_reaches_a_log_or_an_output(tmp_path):
    state = tmp_path / ".sightline"
    up_log = tmp_path / "up.log"
    with up_log.open("w") as log:
        up = subprocess.Popen(
            [SIGHTLINE, "up", "--state-dir", str(state), "--nats-port", "0", "--service", "overlay", "--service", "vision"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    outputs = []
    try:
        _wait_for(lambda: _all_ready(state), 120, "overlay and vision ready")

        def cli(*args: str) -> subprocess.CompletedProcess:
            result = subprocess.run([SIGHTLINE, *args, "--state-dir", str(state)], capture_output=True, text=True, timeout=90, cwd=tmp_path)
            outputs.append(result.stdout + result.stderr)
            return result

        photo = tmp_path / "p.jpg"
        photo.write_bytes(make_photo(5))
        run = cli("glasses", "--device", "a", "--text", "hello", "--photo", str(photo), "--jsonl", "--idle-timeout", "3")
        assert run.returncode == 0, run.stderr
        assert cli("devices", "add", "b").returncode == 0
        assert cli("devices", "revoke", "b").returncode == 0
        direct = cli("glasses", "--device", "a", "--direct", "--creds", str(state / "creds" / "devices" / "a.creds"), "--text", "x")
        assert direct.returncode == 0, direct.stderr
    finally:
        up.terminate()
        up.wait(timeout=60)

    secrets = set()
    for path in [*state.glob("auth/*.nk"), *state.rglob("*.creds")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        text = path.read_text()
        secrets |= set(SEED.findall(text)) | set(JWT.findall(text))
    assert len(secrets) >= 8, "admin, system, two services, device a: seeds and JWTs"
    logs = [up_log, *state.rglob("*.log")]
    assert any("edge" in str(p) for p in logs), "the edge's own server log is checked too"
    for text in [*(p.read_text(errors="replace") for p in logs), *outputs]:
        leaked = [s[:12] for s in secrets if s in text]
        assert not leaked, f"secrets leaked: {leaked}"
    for key in state.glob("tls/*-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    # The hub's config carries the operator JWT (public) but is readable by its user only.
    assert stat.S_IMODE((state / "nats" / "nats-server.conf").stat().st_mode) == 0o600
