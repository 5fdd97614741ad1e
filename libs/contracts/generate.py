"""Generate the Python code of the contracts from proto/ (the one copy).

    python libs/contracts/generate.py          # rewrite src/sightline/v1/*_pb2.py(i)
    python libs/contracts/generate.py --check  # exit 1 if the committed code drifted

The generated files are committed so services need no protoc at run time.
grpcio-tools is pinned in requirements/dev.txt: another protoc version writes
different bytes, and the drift check would then (rightly) ask to regenerate.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
OUT_DIR = Path(__file__).resolve().parent / "src"
PACKAGE_DIR = Path("sightline") / "v1"
# The photo library (vision.library_grpc) and the notification ingress (assistant); the
# other services are reached over NATS.
GRPC_SERVED = ("sightline/v1/assistant.proto", "sightline/v1/vision.proto")


def _generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / PACKAGE_DIR).glob("*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_DIR / PACKAGE_DIR}")
    # grpc_tools.protoc.main does not add its bundled well-known types itself.
    wkt = Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{wkt}", f"--python_out={out}", f"--pyi_out={out}", *protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # gRPC stubs only for services really served over gRPC (the others answer on NATS request
    # subjects only): no unused servicer base classes, and grpcio only where it is used.
    served = [p for p in protos if p in GRPC_SERVED]
    if served and protoc.main(["protoc", f"-I{PROTO_DIR}", f"-I{wkt}", f"--grpc_python_out={out}", *served]) != 0:
        raise SystemExit("protoc (grpc) failed")


def _generated(folder: Path) -> set[str]:
    return {p.name for p in (folder / PACKAGE_DIR).glob("*_pb2*.py*")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if committed code differs from proto/")
    check = parser.parse_args().check
    if not check:
        for old in (OUT_DIR / PACKAGE_DIR).glob("*_pb2*.py*"):
            old.unlink()
        _generate(OUT_DIR)
        print(f"generated {len(_generated(OUT_DIR))} files into {OUT_DIR / PACKAGE_DIR}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        _generate(fresh)
        want, have = _generated(fresh), _generated(OUT_DIR)
        drift = sorted(want ^ have)
        drift += sorted(
            name for name in want & have if not filecmp.cmp(fresh / PACKAGE_DIR / name, OUT_DIR / PACKAGE_DIR / name, shallow=False)
        )
    if drift:
        print("generated contracts drifted from proto/ — run `make contracts`:", *drift, sep="\n  ")
        return 1
    print("contracts up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
