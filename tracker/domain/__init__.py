"""Pure rules of the tracker: no I/O, tested without servers."""
