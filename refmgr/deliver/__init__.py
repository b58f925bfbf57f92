"""Delivery of a render: loudness, file formats, subtitles, the pronunciation lexicon."""
