"""The napari plugin: the dock widget (:mod:`.widget`, with its live preview, jobs and "Auto"
button in :mod:`.widget_preview`, :mod:`.widget_jobs`, :mod:`.widget_estimate`), its Qt-free
logic (:mod:`.preview`: requests, names, slider scale, restorer cache; :mod:`.outputs`:
output layers) and the sample data (:mod:`.sample_data`).

The only layer that imports napari, magicgui or Qt, and only its ``widget*`` modules do. May
import every layer except the cli (``tests/test_layers.py``).
"""
