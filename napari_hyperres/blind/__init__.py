"""Blind estimation: a task's level read from the image itself.

Owns the trained level estimators' use (:mod:`.estimate`), the grid crops they look
through (:mod:`.crops`) and the blind Poisson–Gaussian fit of photon-limited images
(:mod:`.photon_fit`).

May import: :mod:`napari_hyperres.core` and the top-level errors. Never the engine, I/O,
ui or cli (``tests/test_layers.py``).
"""
