"""One module per command: typed keyword arguments in, a result value out. No Click here."""
