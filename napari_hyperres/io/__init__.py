"""Files: reading and writing images (:mod:`.files`: PNG/JPEG/BMP/TIFF, atomic writes) and
restoring TIFF stacks larger than memory page by page (:mod:`.streaming`).

May import: the engine and the layers below it. Never ui or cli (``tests/test_layers.py``).
"""
