"""The napari plugin: the dock widget (:mod:`.widget`), its Qt-free logic (:mod:`.preview`:
requests, names, slider scale, restorer cache) and the sample data (:mod:`.sample_data`).

The only layer that imports napari, magicgui or Qt (and only :mod:`.widget` does). May
import every layer except the cli (``tests/test_layers.py``).
"""
