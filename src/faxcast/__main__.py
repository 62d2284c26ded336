"""`python -m faxcast` runs the command line."""

from faxcast.cli.main import main

main()
