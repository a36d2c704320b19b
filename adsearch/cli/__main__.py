"""``python -m adsearch.cli``: the same as the ``adsearch`` console script."""

from adsearch.cli.app import cli_entry

cli_entry()
