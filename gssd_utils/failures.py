"""The failure kinds every command shares, in a module of their own so that the CLI and the code it runs can both
raise and catch them without importing each other."""


class RunFailure(RuntimeError):
    """A failure while running (not the input's fault); the message says what was kept and what to do."""
