"""`python -m stateline` is the same as the `stateline` command."""

from stateline.cli import main

main()
