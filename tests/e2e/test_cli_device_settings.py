"""`sightline devices set --time-zone / --do-not-disturb` and `devices show`
against a real nats-server with authorisation on, as `sightline up` runs it:
each setting lands in the device registry, `show` and `list` print it, and
a bad value is a clear usage error that changes nothing."""

import asyncio

import pytest

from tests.e2e.test_cli_admin import _cli, _record, secure_server  # noqa: F401


def _setting(table: str, name: str) -> str:
    """The value in the row `name` of `devices show`'s table."""
    [row] = [line for line in table.splitlines() if f"│ {name} " in line]
    return row.split("│")[2].strip()


@pytest.fixture
def lab(secure_server):  # noqa: F811
    nats_server, security = secure_server
    server = ("--server", nats_server.url, "--state-dir", str(security.state_dir))
    added = _cli("devices", "add", "lab-1", "--name", "Lab pair", *server)
    assert added.returncode == 0, added.stderr
    return server, lambda: asyncio.run(_record(nats_server.url, security, "lab-1"))


def test_time_zone_and_do_not_disturb_are_stored_and_shown(lab):
    server, record = lab
    assert (record().time_zone, record().do_not_disturb) == ("", False)
    shown = _cli("devices", "show", "lab-1", *server)
    assert shown.returncode == 0, shown.stderr
    assert (_setting(shown.stdout, "time zone"), _setting(shown.stdout, "do-not-disturb")) == ("UTC", "off"), "no zone reads as UTC"

    changed = _cli("devices", "set", "lab-1", "--time-zone", "Asia/Shanghai", "--do-not-disturb", "on", *server)
    assert changed.returncode == 0, changed.stderr
    assert "time zone Asia/Shanghai" in changed.stdout
    assert "do-not-disturb on" in changed.stdout
    assert (record().time_zone, record().do_not_disturb) == ("Asia/Shanghai", True)
    shown = _cli("devices", "show", "lab-1", *server).stdout
    assert (_setting(shown, "time zone"), _setting(shown, "do-not-disturb"), _setting(shown, "name")) == ("Asia/Shanghai", "on", "Lab pair")
    listed = _cli("devices", "list", *server)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if "lab-1" in line]
    assert [cell.strip() for cell in row.split("│")][5:7] == ["Asia/Shanghai", "on"]

    # One setting at a time leaves the others as they were; '' goes back to UTC.
    assert _cli("devices", "set", "lab-1", "--do-not-disturb", "off", *server).returncode == 0
    assert (record().time_zone, record().do_not_disturb) == ("Asia/Shanghai", False)
    cleared = _cli("devices", "set", "lab-1", "--time-zone", "", *server)
    assert "time zone UTC" in cleared.stdout, cleared.stderr
    assert record().time_zone == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--time-zone", "Mars/Olympus_Mons"), "'Mars/Olympus_Mons' is not a known time zone"),
        (("--time-zone", "asia/shanghai"), "did you mean Asia/Shanghai"),
        (("--time-zone", "../../etc/passwd"), "is not a known time zone"),
        # A file in the zoneinfo folder that is not an IANA zone name.
        (("--time-zone", "localtime"), "is not a known time zone"),
        (("--do-not-disturb", "sometimes"), "--do-not-disturb takes on or off, not 'sometimes'"),
        (("--time-zone", "Asia/Shanghai", "--do-not-disturb", "yes"), "--do-not-disturb takes on or off"),
        ((), "nothing to change"),
    ],
)
def test_a_bad_setting_is_a_usage_error_that_changes_nothing(lab, args, message):
    server, record = lab
    before = record()
    result = _cli("devices", "set", "lab-1", *args, *server)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr
    after = record()
    assert (after.time_zone, after.do_not_disturb, after.updated_at) == (before.time_zone, before.do_not_disturb, before.updated_at)


def test_show_and_set_refuse_an_unknown_device(lab):
    server, _ = lab
    missing = _cli("devices", "show", "nobody", *server)
    assert missing.returncode == 1
    assert "not provisioned" in missing.stderr
    unset = _cli("devices", "set", "nobody", "--time-zone", "Europe/Madrid", *server)
    assert unset.returncode == 1
    assert "not provisioned" in unset.stderr
