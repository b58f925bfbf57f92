#!/usr/bin/env bash
# Fill a wheel folder for scripts/gpu-check.sh, on a machine WITH network (make gpu-wheels).
#
#   bash scripts/gpu-wheels.sh [PYTHON_VERSION] [FOLDER]     # defaults: 3.12 wheels
#
# Resolves the README's GPU install (pip's resolver, metadata only) plus the dev extra, then
# downloads every resolved package for the GPU machine's Python, except torch, torchaudio and
# the CUDA libraries, which that machine has preinstalled. Packages published only as
# source (pure Python, e.g. argbind) are built into wheels here. The resolution runs on this
# machine's Python: for another minor version, check the folder installs (gpu-check.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-3.12}
out=${2:-wheels}
python=${PYTHON:-python3}
pip=("$python" -m pip --disable-pip-version-check)
# GPU_WHEELS_RAY=1: also the Ray executor (refmgr[ray]) for gpu-check.sh's Ray step.
extras='.[fish-1-5,dev]'
if [ "${GPU_WHEELS_RAY:-0}" = 1 ]; then extras='.[fish-1-5,dev,ray]'; fi
mkdir -p "$out" build
"${pip[@]}" install --dry-run --ignore-installed --use-feature=fast-deps --quiet \
    --report build/gpu-wheels.json torch==2.11.0 torchaudio==2.11.0 "$extras"
"$python" - build/gpu-wheels.json > build/gpu-wheels.txt <<'PY'
import json, re, sys
skip = re.compile(r"^(refmgr|torch|torchaudio|triton|nvidia-.*|cuda-.*)$")
for item in json.load(open(sys.argv[1]))["install"]:
    name = re.sub(r"[-_.]+", "-", item["metadata"]["name"]).lower()
    if not skip.match(name):
        print(f"{name}=={item['metadata']['version']}")
PY
# The --no-deps line of the README, and setuptools for the editable install of refmgr.
printf '%s\n' fish-speech==0.1.0 fish-speech-lib==0.1.1.1 descript-audio-codec==1.0.0 \
    descript-audiotools==0.7.2 'setuptools>=68' >> build/gpu-wheels.txt
while read -r requirement; do
    "${pip[@]}" download --quiet --no-deps --only-binary=:all: --dest "$out" \
        --python-version "$version" --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any "$requirement" ||
        "${pip[@]}" wheel --quiet --no-deps --wheel-dir "$out" "$requirement"
done < build/gpu-wheels.txt
echo "$(ls "$out" | wc -l) wheels in $out/ (carry it with the checkout to the GPU machine)"
