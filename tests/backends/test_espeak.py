from __future__ import annotations

import hashlib

import pytest

from refmgr.backends.espeak import Voice, speak


@pytest.mark.parametrize("voice", ["en-us", "en-us+f3", "en-us+m3"])
def test_each_utterance_is_repeatable(voice: str) -> None:
    # +f3 adds breath noise, drawn from a generator eSpeak seeds from the clock.
    digests = {
        hashlib.sha256(speak("Say it again, the same way.", Voice(voice))[0].tobytes()).hexdigest()
        for _ in range(3)
    }
    assert len(digests) == 1


def test_utterances_do_not_depend_on_what_came_before() -> None:
    first = speak("The second sentence.", Voice())[0]
    speak("Something else entirely, spoken in between.", Voice("en-us+f3"))
    assert (speak("The second sentence.", Voice())[0] == first).all()
