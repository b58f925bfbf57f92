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
# build/ is ignored by this checkout's git: refmgr init gives the voice repository a git
# repository of its own (it says so), so nothing is written into this checkout's .git.
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

echo; echo "== a second voice: beta (eSpeak NG en-us+f4), then refmgr add"
python ../../../scripts/speak.py --text-file ../../../examples/beta.txt --voice en-us+f4 --rate 165 --pitch 40 -o ../recordings/beta.wav
cp ../../../examples/beta.txt ../recordings/beta.lab
refmgr add ../recordings/beta.wav --language en
cp ../../../examples/episode.txt episode.txt
echo; echo "== refmgr render episode.txt --mix ../episode.wav   (draft engine: eSpeak NG at each voice's pitch and rate)"
refmgr render episode.txt --mix ../episode.wav
echo; echo "== edit one line, then refmgr render status / render again: only that line renders"
echo "   (--report: the review page, one row per line with its player and picture)"
sed -i.bak 's/three weeks of letters/a month of letters/' episode.txt && rm episode.txt.bak
refmgr render status episode.txt
refmgr render episode.txt --report ../review.html

echo
echo "Done. Files:"
echo "  recording        $demo/recordings/alpha.wav ($(wc -c < ../recordings/alpha.wav) bytes, not committed)"
echo "  tokens           $demo/voices/refs/alpha.npy ($(wc -c < refs/alpha.npy) bytes)"
echo "  manifest         $demo/voices/manifests/alpha.json"
echo "  decoded tokens   $demo/alpha-decoded.wav (listen to what the repository keeps)"
echo "  script           $demo/voices/episode.txt"
echo "  rendered lines   $demo/voices/renders/episode/ ($(ls renders/episode | wc -l) WAV files, draft voices, not committed)"
echo "  render lock      $demo/voices/renders/episode.lock.json (what each line was made from)"
echo "  whole episode    $demo/episode.wav (every line in order)"
echo "  review page      $demo/review.html (open it in a browser: players, pictures, j/k/space)"
echo "  git repository   $demo/voices/.git (the voice repository's own; commit with git add -A && git commit)"
