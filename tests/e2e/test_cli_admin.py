"""`sightline devices` and `sightline glossary` against a real nats-server
(devices: a hub with authorisation on, as `sightline up` runs it)."""

import asyncio
import stat
import subprocess

import nats
import pytest
from sightline_cli.security import LocalSecurity
from sightline_cli.stack import SERVICES
from sightline_runtime.devices import DeviceRegistry

from tests.conftest import VENV_BIN

SIGHTLINE = str(VENV_BIN / "sightline")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SIGHTLINE, *args], capture_output=True, text=True, timeout=60)


async def _record(url: str, security: LocalSecurity, device: str):
    nc = await nats.connect(url, user_credentials=str(security.creds.admin()))
    try:
        return await DeviceRegistry(nc.jetstream()).get(device)
    finally:
        await nc.close()


@pytest.fixture
def secure_server(tmp_path, nats_server_factory):
    security = LocalSecurity(tmp_path / "state")
    server = nats_server_factory("hub", domain="hub", extra=security.prepare_hub(SERVICES))
    return server, security


def test_devices_add_list_revoke(secure_server):
    nats_server, security = secure_server
    server = ("--server", nats_server.url, "--state-dir", str(security.state_dir))
    added = _cli("devices", "add", "lab-1", "--name", "Lab pair", "--target-language", "zh", *server)
    assert added.returncode == 0, added.stderr
    assert "lab-1" in added.stdout
    creds = security.creds.device("lab-1")
    assert str(creds) in added.stdout.replace("\n", ""), "the credentials path is printed"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    seed = next(line for line in creds.read_text().splitlines() if line.startswith("SU"))
    assert seed not in added.stdout + added.stderr, "the secret is never printed"
    audit = _cli("devices", "audit", "lab-1", *server)
    assert audit.returncode == 0, audit.stderr
    assert "no audit records for lab-1" in audit.stdout
    listed = _cli("devices", "list", *server)
    assert "lab-1" in listed.stdout
    assert "active" in listed.stdout
    # The wearer opts in to unblurred photos, and back; a bad value or an unknown device is refused.
    assert _cli("devices", "set", "lab-1", "--photos", "unblurred", *server).returncode == 0
    assert asyncio.run(_record(nats_server.url, security, "lab-1")).keep_unblurred_photos
    assert "photos stored blurred" in _cli("devices", "set", "lab-1", "--photos", "blurred", *server).stdout
    assert not asyncio.run(_record(nats_server.url, security, "lab-1")).keep_unblurred_photos
    assert _cli("devices", "set", "lab-1", "--photos", "sometimes", *server).returncode == 2
    assert "not provisioned" in _cli("devices", "set", "nobody", "--photos", "blurred", *server).stderr
    assert _cli("devices", "revoke", "lab-1", *server).returncode == 0
    assert "revoked" in _cli("devices", "list", *server).stdout
    assert not creds.exists()
    anonymous = _cli("devices", "list", "--server", nats_server.url, "--state-dir", str(security.state_dir / "elsewhere"))
    assert anonymous.returncode == 1
    assert "refused" in anonymous.stderr
    assert "Traceback" not in anonymous.stderr
    missing = _cli("devices", "revoke", "nobody", *server)
    assert missing.returncode == 1
    assert "no device 'nobody'" in missing.stderr
    bad = _cli("devices", "add", "a.b", *server)
    assert bad.returncode == 2
    assert "invalid device id" in bad.stderr


def test_glossary_add_list_remove(nats_server):
    server = ("--server", nats_server.url)
    added = _cli("glossary", "add", "lab-1", "smart glasses", "gafas inteligentes", "--from", "en", "--to", "es", *server)
    assert added.returncode == 0, added.stderr
    listed = _cli("glossary", "list", "lab-1", *server)
    assert "smart glasses" in listed.stdout
    assert "gafas inteligentes" in listed.stdout
    assert _cli("glossary", "remove", "lab-1", "smart glasses", "--from", "en", "--to", "es", *server).returncode == 0
    assert "smart glasses" not in _cli("glossary", "list", "lab-1", *server).stdout
    bad = _cli("glossary", "add", "lab-1", "x", "y", "--from", "english!", "--to", "es", *server)
    assert bad.returncode == 2
    assert "not a BCP-47 language tag" in bad.stderr
