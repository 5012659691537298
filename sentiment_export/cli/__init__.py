"""``python -m sentiment_export``: thin argparse faces over the library."""
