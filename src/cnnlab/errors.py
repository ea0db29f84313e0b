class CnnlabError(Exception):
    """A problem the user can fix; the CLI prints it on one line and exits 2."""
