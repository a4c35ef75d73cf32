"""The one error type the command line turns into a single line and exit status 2: bad input or a
situation the user can fix (a missing file, a port nobody answers on). Anything else is a bug and keeps
its traceback."""


class UserError(Exception):
    """Its message is shown as `walkdose: MESSAGE`; it names the file, port or option at fault."""
