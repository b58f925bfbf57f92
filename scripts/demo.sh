#!/usr/bin/env bash
# End-to-end demo on the offline defaults: a throw-away voice repository under build/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=build/demo
rm -rf "$demo"
mkdir -p "$demo/recordings"

echo "== synthesizing a 30 s recording for alpha (eSpeak NG, 44.1 kHz stereo)"
python scripts/speak.py --text-file examples/alpha.txt --rate 150 -o "$demo/recordings/alpha.wav"
cp examples/alpha.txt "$demo/recordings/alpha.lab"

cd "$demo"
echo; echo "== refmgr init voices"
refmgr init voices
cd voices
echo; echo "== refmgr add ../recordings/alpha.wav   (transcript from alpha.lab beside it)"
refmgr add ../recordings/alpha.wav --language en
echo; echo "== refmgr ls"
refmgr ls
echo; echo "== refmgr show alpha"
refmgr show alpha
echo; echo "== refmgr decode alpha -o ../alpha-decoded.wav"
refmgr decode alpha -o ../alpha-decoded.wav

echo
echo "Done. Files:"
echo "  recording        $demo/recordings/alpha.wav ($(wc -c < ../recordings/alpha.wav) bytes, not committed)"
echo "  tokens           $demo/voices/refs/alpha.npy ($(wc -c < refs/alpha.npy) bytes)"
echo "  manifest         $demo/voices/manifests/alpha.json"
echo "  decoded tokens   $demo/alpha-decoded.wav (listen to what the repository keeps)"
