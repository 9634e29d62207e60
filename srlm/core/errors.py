"""The base of every error srlm reports to a user as one line (see `srlm.core.console`)."""


class SrlmError(ValueError):
    """Bad input or state the user can fix; the message names the file, key or row."""
