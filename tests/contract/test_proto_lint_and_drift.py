import shutil
import subprocess
import sys

from tests.conftest import ROOT, VENV_BIN


def _buf(*args, cwd=ROOT):
    return subprocess.run([str(VENV_BIN / "buf"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_buf_lint_standard_passes():
    result = _buf("lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_buf_lint_catches_a_violation(tmp_path):
    # Proves the lint really runs STANDARD: an enum without an UNSPECIFIED zero fails.
    shutil.copytree(ROOT / "proto", tmp_path / "proto")
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    (tmp_path / "proto/sightline/v1/bad.proto").write_text('syntax = "proto3";\npackage sightline.v1;\nenum Mood { HAPPY = 0; }\n')
    result = _buf("lint", cwd=tmp_path)
    assert result.returncode != 0
    assert "ENUM_ZERO_VALUE_SUFFIX" in result.stdout or "UNSPECIFIED" in result.stdout


def test_committed_python_matches_proto():
    result = subprocess.run(
        [sys.executable, "libs/contracts/generate.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_drift_check_fails_when_proto_changes(tmp_path):
    shutil.copytree(ROOT / "proto", tmp_path / "proto")
    shutil.copytree(ROOT / "libs/contracts", tmp_path / "libs/contracts", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    display = tmp_path / "proto/sightline/v1/display.proto"
    display.write_text(display.read_text().replace("bool truncated = 3;", "bool truncated = 3;\n  string font = 4;"))
    result = subprocess.run(
        [sys.executable, str(tmp_path / "libs/contracts/generate.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "display_pb2.py" in result.stdout


# The last released contracts (`make proto-baseline` writes it when a release is cut):
# deployed services and glasses in the field speak it, so proto/ may only add to it.
BASELINE = ROOT / "libs/contracts/baseline.binpb"


def test_proto_has_no_breaking_change_against_the_released_baseline():
    result = _buf("breaking", "--against", str(BASELINE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_breaking_check_catches_a_removed_field(tmp_path):
    shutil.copytree(ROOT / "proto", tmp_path / "proto")
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    common = tmp_path / "proto/sightline/v1/common.proto"
    common.write_text(common.read_text().replace("  float height = 4;\n", "", 1))
    result = _buf("breaking", "--against", str(BASELINE), cwd=tmp_path)
    assert result.returncode != 0
    assert "FIELD_NO_DELETE" in result.stdout or "deleted" in result.stdout
