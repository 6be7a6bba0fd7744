"""``python -m npsdiag`` runs the command line."""

from npsdiag.cli import main

main()
