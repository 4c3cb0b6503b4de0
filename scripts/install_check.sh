#!/usr/bin/env bash
# The documented ways to install spikeops, each checked from a clean copy of the source tree
# (the files git tracks or would track: no build folder, no compiled module), in a temporary
# folder that is removed afterwards (KEEP=1 keeps it):
#
#   plain venv   python -m venv env; pip install torch; pip install --no-build-isolation .
#   conda-style  an environment whose torch comes from the base environment and was not
#                installed into it by pip: pip install --no-build-isolation . must build
#                against that torch and leave it in place
#   editable     pip install --no-build-isolation -e . (in a conda-style environment)
#   isolated     pip install . (pip's default build isolation) must fail, saying to use
#                --no-build-isolation
#
# Each installed package must import from the environment (not from a source folder), run
# spikeops.LIF(decay=0.9) forward and backward on a [4, 2, 8] tensor, matching
# spikeops.reference, and `python -m spikeops info`, all from a folder outside the source.
# One line per way, OK or FAIL with its wall time; on a failure the end of its log follows
# and the exit status is 1.
#
# BASE_PYTHON  a Python that has torch (default: the project's .venv/bin/python, which
#              `make setup` makes): the base of the conda-style environments, and the
#              interpreter of every new environment
# TORCH_SPEC   what the plain venv installs with pip (default: torch==<BASE_PYTHON's torch
#              version>, the wheel pip installed there, so nothing large is fetched again)
#
# Two builds of the extension run, each a few minutes on 2 cores: the plain venv's and the
# conda-style one's; the editable install uses the conda-style checkout, whose build folder
# (build/<wheel tag>, pyproject.toml) is up to date for the same torch, so it only installs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE_PYTHON="${BASE_PYTHON:-$ROOT/.venv/bin/python}"
# An absolute path to the same file, symlinks kept: a venv's python resolved through its
# symlink would be the interpreter it was made from, without the venv's packages.
if [[ "$BASE_PYTHON" != */* ]]; then
  BASE_PYTHON="$(command -v "$BASE_PYTHON")"
fi
BASE_PYTHON="$(cd "$(dirname "$BASE_PYTHON")" && pwd)/$(basename "$BASE_PYTHON")"
# Nothing from the caller's environment may make a source folder importable or change
# how pip builds.
unset PYTHONPATH PYTHONHOME PIP_NO_BUILD_ISOLATION PIP_USER PIP_TARGET PIP_PREFIX

if ! base_torch="$("$BASE_PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null)"; then
  echo "install_check: $BASE_PYTHON cannot import torch; run make setup first, or set BASE_PYTHON" >&2
  exit 2
fi
TORCH_SPEC="${TORCH_SPEC:-torch==$base_torch}"

W="$(mktemp -d "${TMPDIR:-/tmp}/spikeops-install.XXXXXX")"
cleanup() { if [[ "${KEEP:-0}" == 1 ]]; then echo "install_check: kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
mkdir -p "$W/outside" "$W/logs"

# One snapshot of the tree at the start, so that every way installs the same source.
mkdir "$W/tree"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do
    if [[ -e "$ROOT/$f" || -L "$ROOT/$f" ]]; then printf '%s\0' "$f"; fi  # not a deleted tracked file
  done | tar -C "$ROOT" --null -T - -cf - | tar -C "$W/tree" -xf -

fresh_copy() { cp -a "$W/tree" "$1"; }

site_of() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])'; }

# The import check, run with the environment's python from a folder outside every source
# tree: argv[1] the folder spikeops must be imported from, argv[2] "env" if torch must be
# installed in the environment itself, "base" if it must come from outside it.
cat >"$W/smoke.py" <<'EOF'
import os
import sys

import torch

import spikeops
from spikeops import reference


def real(path):
    return os.path.realpath(path)


def inside(path, folder):
    return real(path).startswith(real(folder) + os.sep)


pkg_dir, torch_from = sys.argv[1], sys.argv[2]
here = os.path.dirname(real(spikeops.__file__))
assert here == real(pkg_dir), f"spikeops imported from {here}, expected {pkg_dir}"
assert inside(spikeops._C.__file__, sys.prefix), \
    f"the compiled module {spikeops._C.__file__} is not in this environment ({sys.prefix})"
torch_in_env = inside(torch.__file__, sys.prefix)
assert torch_in_env == (torch_from == "env"), \
    f"torch imported from {torch.__file__}, expected it {'in' if torch_from == 'env' else 'outside'} {sys.prefix}"

torch.manual_seed(0)
x = (2 * torch.randn(4, 2, 8)).requires_grad_()
spikes = spikeops.LIF(decay=0.9)(x)
spikes.sum().backward()
x_ref = x.detach().clone().requires_grad_()
ref_spikes = reference.lif(x_ref, decay=0.9)[0]
ref_spikes.sum().backward()
assert spikes.shape == (4, 2, 8), spikes.shape
assert torch.equal(spikes.detach(), ref_spikes.detach()), "spikes differ from spikeops.reference"
assert 0 < int(spikes.sum()) < spikes.numel(), "no spike or all spikes: the check says nothing"
assert torch.allclose(x.grad, x_ref.grad, rtol=1e-5, atol=1e-6), "gradients differ from spikeops.reference"
print(f"smoke: spikeops from {here}, torch {torch.__version__} from {os.path.dirname(torch.__file__)}, "
      f"{int(spikes.sum())} spikes of {spikes.numel()}, gradients match the reference")
EOF

smoke() {  # env_dir pkg_dir torch_from
  local py="$1/bin/python"
  (cd "$W/outside" && "$py" "$W/smoke.py" "$2" "$3" && "$py" -m spikeops info && "$1/bin/spikeops" info >/dev/null)
}

# The torch library folder the build must link against, as CMakeLists.txt prints it.
check_built_against() {  # log python
  local lib
  lib="$("$2" -c 'import torch.utils.cpp_extension as e; print(e.library_paths()[0])')"
  if ! grep -F "spikeops: torch " "$1" | grep -F " at $lib" >/dev/null; then
    echo "the build did not report the torch at $lib:"; grep -F "spikeops: torch" "$1" || true
    return 1
  fi
}

# A conda-style environment: torch is importable and visible to pip, but lives in the base
# environment's site-packages, outside this environment's prefix, where pip does not install
# or uninstall. `python -m venv --system-site-packages` gives that on top of a Python that is
# not itself a venv (a conda base, a system Python with torch). On top of a venv, such as the
# project's .venv, it would reach the venv's own interpreter's packages instead, so the base
# venv's site-packages are added by a .pth file, as a path line: the same place on sys.path,
# after the environment's own site-packages, without running the base's .pth files (which
# would bring in its editable spikeops).
make_conda_env() {  # env_dir
  "$BASE_PYTHON" -m venv --system-site-packages "$1"
  local base_sites
  base_sites="$("$BASE_PYTHON" -c 'import sys, sysconfig
if sys.prefix != sys.base_prefix:
    print("\n".join(dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))))')"
  if [[ -n "$base_sites" ]]; then
    printf '%s\n' "$base_sites" >"$(site_of "$1/bin/python")/_spikeops_check_base.pth"
  fi
  "$1/bin/python" -c 'import torch' || { echo "torch is not importable in the conda-style environment"; return 1; }
}

check_no_pip_torch() {  # env_dir
  local site
  site="$(site_of "$1/bin/python")"
  if compgen -G "$site/torch*" >/dev/null; then
    echo "pip installed torch into the environment:"; ls -d "$site"/torch*
    return 1
  fi
}

way_plain() {
  "$BASE_PYTHON" -m venv "$W/env-a"
  "$W/env-a/bin/pip" install -q "$TORCH_SPEC"
  "$W/env-a/bin/pip" install -q scikit-build-core pybind11 ninja
  fresh_copy "$W/src-a"
  "$W/env-a/bin/pip" install -v --no-build-isolation "$W/src-a" 2>&1 | tee "$W/logs/build-a.txt"
  check_built_against "$W/logs/build-a.txt" "$W/env-a/bin/python"
  smoke "$W/env-a" "$(site_of "$W/env-a/bin/python")/spikeops" env
}

way_conda() {
  make_conda_env "$W/env-b"
  "$W/env-b/bin/pip" install -q scikit-build-core pybind11 ninja
  fresh_copy "$W/src-bc"
  "$W/env-b/bin/pip" install -v --no-build-isolation "$W/src-bc" 2>&1 | tee "$W/logs/build-b.txt"
  check_built_against "$W/logs/build-b.txt" "$BASE_PYTHON"
  check_no_pip_torch "$W/env-b"
  smoke "$W/env-b" "$(site_of "$W/env-b/bin/python")/spikeops" base
}

way_editable() {
  make_conda_env "$W/env-c"
  "$W/env-c/bin/pip" install -q scikit-build-core pybind11 ninja
  if [[ ! -d "$W/src-bc" ]]; then fresh_copy "$W/src-bc"; fi
  "$W/env-c/bin/pip" install -v --no-build-isolation -e "$W/src-bc"
  check_no_pip_torch "$W/env-c"
  smoke "$W/env-c" "$W/src-bc/spikeops" base
}

way_isolated() {
  "$W/env-a/bin/python" -c 'import torch' || { echo "needs the plain venv, with torch, of the first check"; return 1; }
  fresh_copy "$W/src-d"
  local rc=0
  "$W/env-a/bin/pip" install "$W/src-d" >"$W/logs/isolated.txt" 2>&1 || rc=$?
  cat "$W/logs/isolated.txt"
  if [[ $rc == 0 ]]; then echo "pip install . succeeded with build isolation; it must fail"; return 1; fi
  local flat
  flat="$(tr -s '[:space:]' ' ' <"$W/logs/isolated.txt")"
  for want in '`import torch` failed' 'pip install --no-build-isolation .'; do
    if [[ "$flat" != *"$want"* ]]; then echo "the failure does not say: $want"; return 1; fi
  done
}

failed=0
run_way() {  # function label
  local log="$W/logs/$1.txt" start rc
  start=$(date +%s)
  set +e
  (set -e; "$1") >"$log" 2>&1
  rc=$?
  set -e
  if [[ $rc == 0 ]]; then
    printf 'OK    %-60s %4ds\n' "$2" "$(($(date +%s) - start))"
  else
    printf 'FAIL  %-60s %4ds\n' "$2" "$(($(date +%s) - start))"
    sed 's/^/      | /' "$log" | tail -n 40
    failed=1
  fi
}

echo "install check: base python $BASE_PYTHON (torch $base_torch), plain venv installs $TORCH_SPEC"
run_way way_plain "plain venv: pip install --no-build-isolation ."
run_way way_isolated "build isolation: pip install . fails, says --no-build-isolation"
run_way way_conda "conda-style env (base torch): pip install --no-build-isolation ."
run_way way_editable "editable: pip install --no-build-isolation -e ."
exit "$failed"
