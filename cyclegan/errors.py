"""Errors that mean "the user asked for something that cannot work": entry points report them
as one line, `error: <message>`, and exit with code 2, no traceback. Standard library only."""


class UsageError(ValueError):
    """A flag, a config value or a combination of them that cannot work; says which and why."""


class DataError(ValueError):
    """The input data cannot be used; the message says what and where."""
