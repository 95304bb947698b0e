"""`python -m sqlfleet`."""

from sqlfleet.cli import run

run()
