"""A report module that was half-edited and never finished."""

from .catalog import DEFAULTS


def broken_report(:  # expect: SL001
    return DEFAULTS
