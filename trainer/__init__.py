"""``python -m trainer``: train and evaluate napari-hyperres tasks and the papers' baselines."""
