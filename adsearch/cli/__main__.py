"""``python -m adsearch.cli``: the same as the ``adsearch`` console script."""

import sys

from adsearch.cli.app import main

sys.exit(main())
