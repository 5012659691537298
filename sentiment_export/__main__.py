"""``python -m sentiment_export``: see :mod:`sentiment_export.cli`."""

import sys

from .cli.main import main

sys.exit(main())
