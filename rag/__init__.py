"""Manba: cited answers over Persian, Arabic and English documents."""

__version__ = "0.1.0"
