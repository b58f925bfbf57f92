#!/usr/bin/env bash
# The Fish Speech checks on a GPU machine: CUDA PyTorch and real torchaudio preinstalled,
# no network, this checkout with a wheel folder made by `make gpu-wheels` on a networked
# machine (README, "Checking on a GPU").
#
#   bash scripts/gpu-check.sh            # WHEELS=wheels DEVICE=cuda PYTHON=python3
#
# 1. a venv that sees the preinstalled torch/torchaudio; refmgr (editable) and the fish stack
#    from the wheel folder only (--no-index), with the README's --no-deps line;
# 2. the fish tests (and the torchaudio golden values) on DEVICE in bf16, then fp32;
# 3. benchmarks/bench_fish.py --device DEVICE: encoding and per-line rendering on the
#    fish-s1 engine against fish-speech's own entry points, with the figures it prints;
# 4. the batched benchmark on the real-size S1 layout with random weights: lines/s at
#    batch 1, 4, 8, 16 against upstream's generate_long line by line (target: >= 3x at 16),
#    tokens/s, real-time factor, peak GPU memory;
# 5. a fish-s1 render through the Ray executor on the GPU (benchmarks/bench_ray.py), when
#    ray's wheel is in the wheel folder (GPU_WHEELS_RAY=1 make gpu-wheels; it is about 80 MB,
#    more than some transfer limits allow, so without it the step says it is skipped).
# DEVICE=cpu runs the same steps on a machine without a GPU (bf16 on CPU is slow).
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=${WHEELS:-wheels}
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
venv=${VENV:-build/gpu-venv}

"$python" -m venv --system-site-packages "$venv"
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check install --no-index --find-links "$wheels")
"${pip[@]}" --quiet -e '.[fish-1-5,dev]'
"${pip[@]}" --quiet --no-deps fish-speech==0.1.0 fish-speech-lib==0.1.1.1 \
    descript-audio-codec==1.0.0 descript-audiotools==0.7.2
touch "$("$py" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/../.project-root"

"$py" - "$device" <<'PY'
import sys, torch, torchaudio
print(f"torch {torch.__version__}, torchaudio {torchaudio.__version__} ({torchaudio.__file__})")
if sys.argv[1] == "cuda":
    assert torch.cuda.is_available(), "DEVICE=cuda but torch sees no CUDA device"
    print(f"device: {torch.cuda.get_device_name(0)}")
PY

for precision in bf16 fp32; do
    echo "== fish tests on $device, $precision"
    REFMGR_REQUIRE_FISH=1 REFMGR_TEST_DEVICE="$device" REFMGR_TEST_PRECISION="$precision" \
        "$py" -m pytest -q -p no:cacheprovider tests/fish tests/fish/test_torchaudio_stub.py
done

echo "== benchmarks/bench_fish.py --device $device (tiny random-weight checkpoint)"
"$py" benchmarks/bench_fish.py --device "$device"
echo "== benchmarks/bench_fish.py --device $device --size real --only-batch (issue 14: batching)"
"$py" benchmarks/bench_fish.py --device "$device" --size real --only-batch --clips 0 \
    --tokens "${BATCH_TOKENS:-128}" --batch-lines "${BATCH_LINES:-16}" --batches 1,4,8,16 --repeat 1
if ls "$wheels"/ray-*.whl >/dev/null 2>&1; then
    echo "== benchmarks/bench_ray.py --engine fish-s1 --device $device (issue 14: Ray executor)"
    "${pip[@]}" --quiet -e '.[ray]'
    "$py" benchmarks/bench_ray.py --engine fish-s1 --device "$device"
else
    echo "== Ray render on $device: skipped (no ray wheel in $wheels/: GPU_WHEELS_RAY=1 make gpu-wheels)"
fi
echo "== benchmarks/bench_render.py (draft engine: refmgr's own overhead per line)"
"$py" benchmarks/bench_render.py
