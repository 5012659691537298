"""Readers of labelled review files: the Amazon polarity format and CSV (no torch)."""
