"""The command line ``napari-hyperres`` (:mod:`.main`): tasks, restore, estimate, weights.

May import every layer except the ui (``tests/test_layers.py``); imports torch only when a
command needs it, so ``--help`` is instant.
"""
