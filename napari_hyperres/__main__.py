"""``python -m napari_hyperres``: the command line (:mod:`napari_hyperres.cli`)."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
