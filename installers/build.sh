#!/usr/bin/env bash
# Build the Linux package of CFFD Studio from this checkout: a one-folder build holding the
# `cffd-studio` window and the `cffd` command (PyInstaller), and its tar.gz. Nothing is installed
# into the checkout's .venv: the build has its own environment under installers/.build/.
#
#   bash installers/build.sh [--cuda] [--torch-index URL|pypi] [--venv DIR] [--out DIR] [--no-tar]
#
#   (default)           CPU build: runs on any x86_64 Linux, uses the CPU only.
#   --cuda              keep the CUDA libraries, so that `--device cuda` works on an NVIDIA GPU
#                       (torch from PyPI, which is a CUDA build on Linux; several GB).
#   --torch-index URL   where the CPU build gets torch and torchvision (default: PyTorch's CPU
#                       wheels, $CPU_INDEX). `pypi` (or an unreachable index) takes PyPI's CUDA
#                       build instead and leaves out every CUDA library torch does not load on start.
#   --venv DIR          the build environment (default: installers/.build/venv-<torch source>).
#   --out DIR           where the build and the tar.gz go (default: installers/.build).
#   --no-tar            stop after the one-folder build.
set -euo pipefail

CPU_INDEX=https://download.pytorch.org/whl/cpu
PYINSTALLER=(pyinstaller==6.22.3 pyinstaller-hooks-contrib==2026.9)

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
flavour=cpu
torch_index=$CPU_INDEX
venv=
out=$here/.build
make_tar=1
while [ $# -gt 0 ]; do
  case $1 in
    --cuda) flavour=cuda ;;
    --torch-index) torch_index=$2; shift ;;
    --venv) venv=$2; shift ;;
    --out) out=$2; shift ;;
    --no-tar) make_tar=0 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
started=$(date +%s)
say() { echo "build.sh: $*"; }

python=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$python" -c 'import sys; assert sys.version_info[:2] == (3, 11), "CFFD Studio needs Python 3.11, found " + sys.version'

pin() {  # the version pyproject.toml pins a package to (torch==X)
  "$python" -c 'import re, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
print(next(d.split("==")[1] for d in deps if re.match(sys.argv[2] + "==", d)))' "$root/pyproject.toml" "$1"
}
torch_pin=$(pin torch)
vision_pin=$(pin torchvision)

# Where torch comes from decides the environment: PyPI's (a CUDA build on Linux) or a CPU index's.
torch_source=pypi
if [ "$flavour" = cpu ] && [ "$torch_index" != pypi ]; then
  if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=10)' \
      "$torch_index" 2>/dev/null; then
    torch_source=cpu-index
  else
    say "WARNING: $torch_index cannot be reached: using PyPI's torch (a CUDA build) and leaving out"
    say "         the CUDA libraries it does not load on start; the bundle is larger than with CPU wheels."
  fi
fi
venv=${venv:-$out/venv-$torch_source}
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

if [ ! -x "$venv/bin/python" ]; then
  say "creating the build environment $venv"
  nice -n 19 "$python" -m venv "$venv"
fi
stamp=$venv/.cffd-build-stamp
py_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
lock=$root/requirements/lock-py$py_version.txt
[ -f "$lock" ] || { say "no dependency lock for Python $py_version ($lock)"; exit 1; }
wanted=$(cat "$lock" "$root/pyproject.toml" "$here/build.sh" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  if [ "$torch_source" = cpu-index ]; then
    say "installing torch==$torch_pin and torchvision==$vision_pin (CPU) from $torch_index"
    nice -n 19 "${pip[@]}" install --quiet --index-url "$torch_index" "torch==$torch_pin" "torchvision==$vision_pin"
  fi
  say "installing the application's dependencies from $lock, and PyInstaller"
  locked=$lock
  if [ "$torch_source" = cpu-index ]; then
    # torch and torchvision came from the CPU index: the lock's CUDA build and its libraries stay out.
    locked=$out/lock-without-cuda.txt
    "$python" - "$lock" "$locked" <<'PY'
import re, sys
blocks = re.split(r"\n(?=[A-Za-z])", open(sys.argv[1]).read())
skip = re.compile(r"^(torch|torchvision|triton|nvidia-[a-z0-9-]+|cuda-[a-z-]+)==")
open(sys.argv[2], "w").write("\n".join(b for b in blocks if not skip.match(b)) + "\n")
PY
  fi
  nice -n 19 "${pip[@]}" install --quiet --require-hashes --no-deps -r "$locked"
  nice -n 19 "${pip[@]}" install --quiet "${PYINSTALLER[@]}"
  echo "$wanted" > "$stamp"
fi
# The checkout as it is now (its dependencies are in place already).
nice -n 19 "${pip[@]}" install --quiet --no-deps --force-reinstall "$root"

version=$("$venv/bin/python" -c 'import cffd_engine; print(cffd_engine.__version__)')
torch_info=$("$venv/bin/python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')
say "building CFFD Studio $version, $flavour build, torch $torch_info"

dist=$out/dist-$flavour
work=$out/work-$flavour
spec_args=()
[ "$flavour" = cuda ] && spec_args=(-- --cuda)
(cd "$root" && nice -n 19 "$venv/bin/pyinstaller" --noconfirm --log-level WARN \
  --distpath "$dist" --workpath "$work" "$here/cffd.spec" "${spec_args[@]}")

app=$dist/cffd-studio
cp "$here/linux/cffd-studio.desktop" "$here/linux/install.sh" "$app/"
cp "$lock" "$app/_internal/cffd-lock.txt"  # named by `cffd version` and every report (sys._MEIPASS)
cp "$here/.build/icons/cffd-studio.svg" "$here/.build/icons/cffd-studio.png" "$app/"
cat > "$app/BUILD-INFO.txt" <<EOF
CFFD Studio $version, Linux x86_64, $flavour build
built $(date -u +%Y-%m-%dT%H:%M:%SZ) from commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$( [ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ] && echo ' (with uncommitted changes)')
torch $torch_info (from $torch_source)
$("${pip[@]}" list --format=freeze | grep -iE '^(pyinstaller|torchvision|pyside6-essentials|mediapipe)==' | tr '\n' ' ')

Run ./cffd-studio (the window) or ./cffd --help (the command line); ./install.sh adds both
to your menu and ~/.local/bin. The window needs these system libraries (Debian/Ubuntu):
$("$venv/bin/python" -c 'import sys; sys.path.insert(0, sys.argv[1]); from app.system_libraries import APT_LINE; print(APT_LINE)' "$root")
EOF
say "one-folder build: $app ($(du -sh "$app" | cut -f1))"

if [ "$make_tar" = 1 ]; then
  tarball=$out/cffd-studio-$version-linux-x86_64-$flavour.tar.gz
  nice -n 19 tar -C "$dist" --transform "s,^cffd-studio,cffd-studio-$version," -czf "$tarball.part" cffd-studio
  mv "$tarball.part" "$tarball"
  say "package: $tarball ($(du -h "$tarball" | cut -f1))"
fi
say "done in $(( $(date +%s) - started )) s"
