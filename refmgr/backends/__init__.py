"""Codecs and synthesis engines, each behind a small Protocol and listed in ``registry``.

Everything heavy (torch, fish_speech, native libraries) is imported inside a backend's own
module when it is first loaded, never from here.
"""
