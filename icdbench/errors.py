"""User-facing errors: one clear line, exit code 2, no traceback (unless --debug)."""


class UserError(Exception):
    """A problem with what the user asked for or supplied; the message names the problem and the fix."""

    exit_code = 2
