"""`sightline devices` and `sightline glossary` against a real nats-server."""

import subprocess

from tests.conftest import VENV_BIN

SIGHTLINE = str(VENV_BIN / "sightline")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SIGHTLINE, *args], capture_output=True, text=True, timeout=60)


def test_devices_add_list_revoke(nats_server):
    server = ("--server", nats_server.url)
    added = _cli("devices", "add", "lab-1", "--name", "Lab pair", "--target-language", "zh", *server)
    assert added.returncode == 0, added.stderr
    assert "lab-1" in added.stdout
    listed = _cli("devices", "list", *server)
    assert "lab-1" in listed.stdout
    assert "active" in listed.stdout
    assert _cli("devices", "revoke", "lab-1", *server).returncode == 0
    assert "revoked" in _cli("devices", "list", *server).stdout
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
