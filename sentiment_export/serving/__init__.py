"""Serving layer: faces that score raw text with a loaded artifact; nothing here imports torch."""
