"""Values typed on a command line, parsed for argparse: shared by the package's CLI and the trainer
(``python -m trainer``), which must not import the CLI (the trainer imports core, blind, engine and io)."""

from __future__ import annotations

import argparse


def whole_number(text: str, minimum: int, unit: str = "", too_small: str = "", maximum: int | None = None) -> int:
    """An argparse value: a whole number (of ``unit``) of at least ``minimum`` and at most ``maximum``
    (``too_small`` names the range in the error; default "at least ``minimum``")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number{' of ' + unit if unit else ''}, got {text!r}") from None
    too_small = too_small or f"at least {minimum}"
    if value < minimum or (maximum is not None and value > maximum):
        raise argparse.ArgumentTypeError(f"expected {too_small}, got {value}")
    return value
