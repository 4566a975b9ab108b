#!/usr/bin/env bash
# Install the verified mmreviosa stack into a virtual environment.
#
# The stack has three traps this script handles so that users do not have to:
#   * mmcv 2.1.0 must be the full build with compiled ops (mmdet.models imports them). PyPI only has a
#     source distribution. We install a prebuilt wheel when one is found (MMCV_WHEEL_DIR, default
#     ../shared/wheels) and otherwise build it from source (~20 min on 2 cores), patching its setup.py
#     to C++20 because ATen in torch >= 2.10 refuses C++17.
#   * sam2 and xtuner are installed with --no-deps (their pins conflict with the stack).
#   * sam2's CUDA extension is skipped (SAM2_BUILD_CUDA=0): it is optional and only speeds up
#     post-processing of masks.
set -euo pipefail
PYTHON=${PYTHON:-python3.11}
VENV=$(realpath -m "${VENV:-.venv}")
HERE=$(cd "$(dirname "$0")/.." && pwd)
MMCV_WHEEL_DIR=${MMCV_WHEEL_DIR:-$HERE/../shared/wheels}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[install] creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install --upgrade "pip<26" "setuptools<81" wheel
echo "[install] runtime requirements"
$PIP install -r "$HERE/requirements/runtime.txt" -r "$HERE/requirements/tests.txt"

MMCV_WHEEL=$(ls "$MMCV_WHEEL_DIR"/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)
if "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  echo "[install] mmcv 2.1.0 with ops already present"
elif [ -n "$MMCV_WHEEL" ]; then
  echo "[install] mmcv from prebuilt wheel $MMCV_WHEEL"
  $PIP install --no-deps "$MMCV_WHEEL"
else
  echo "[install] building mmcv 2.1.0 with ops from source (about 20 minutes on 2 cores)"
  BUILD_DIR=$(mktemp -d)
  $PIP download --no-deps --no-binary :all: --no-build-isolation mmcv==2.1.0 -d "$BUILD_DIR"
  tar -xzf "$BUILD_DIR"/mmcv-2.1.0.tar.gz -C "$BUILD_DIR"
  sed -i 's/-std=c++17/-std=c++20/g' "$BUILD_DIR"/mmcv-2.1.0/setup.py
  $PIP install addict packaging yapf opencv-python
  (cd "$BUILD_DIR"/mmcv-2.1.0 && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} FORCE_CUDA=0 \
      "$VENV/bin/python" -m pip install --no-build-isolation --no-deps . )
  rm -rf "$BUILD_DIR"
fi
# mmcv's own runtime deps (the wheel was installed without them).
$PIP install addict packaging yapf "mmdet==3.3.0"

echo "[install] DeepSpeed (ZeRO-2 configs; its setup needs torch, hence no build isolation)"
DS_BUILD_OPS=0 $PIP install --no-build-isolation -r "$HERE/requirements/deepspeed.txt"
echo "[install] sam2 and xtuner without their pinned dependencies"
SAM2_BUILD_CUDA=0 $PIP install --no-build-isolation --no-deps -r "$HERE/requirements/nodeps.txt"
echo "[install] mmreviosa (editable)"
$PIP install --no-build-isolation --no-deps -e "$HERE"
"$VENV/bin/python" -c "import mmreviosa, mmdet.models, sam2, xtuner, peft; print('[install] ok: mmreviosa', mmreviosa.__version__)"
