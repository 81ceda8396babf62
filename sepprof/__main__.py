"""``python -m sepprof``."""

from sepprof.cli import main

main()
