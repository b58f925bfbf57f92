"""Fish Speech backends: the ``fish-s1`` and ``fish-1.5`` codecs and engines.

``codec.py`` and ``engine.py`` implement refmgr's Protocols; ``device.py`` picks the torch
device and precision; ``_adapter.py`` is the only module that touches fish-speech code.
Importing this package imports nothing heavy; its modules import torch.
"""
