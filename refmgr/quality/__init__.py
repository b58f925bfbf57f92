"""Quality scorers: measures of a reference recording or a rendered line.

Light on purpose: nothing here is imported at module level except what the commit path
can afford. The scorers (speaker embedding, DNSMOS, loudness, voice activity) load their
libraries (torch, onnxruntime, librosa, ...) when first used, from the optional extra
``refmgr[qa]``; ``available.qa_available()`` tells without importing them.
"""
