"""The core: what a restoration *is*, with no notion of how it is run.

Owns the networks (:mod:`.models`), the tasks and their differentiable degradations
(:mod:`.tasks`, :mod:`.degradations`), the task registry and its plugin manager
(:mod:`.plugins`), weights files (:mod:`.weights`), and the pure maps between a file's
values and the networks' ``[0, 1]`` (:mod:`.intensity`, :mod:`.stabilize`,
:mod:`.photon_noise`, :mod:`.impulses`, :mod:`.color`, :mod:`.images`, :mod:`.devices`, :mod:`.jpeg_quality`).

May import: :mod:`napari_hyperres.errors`, :mod:`napari_hyperres.hookspecs`, torch, kornia,
numpy, opencv. Never the layers above (blind, engine, io, ui, cli), napari or Qt
(``tests/test_layers.py`` enforces it).
"""
