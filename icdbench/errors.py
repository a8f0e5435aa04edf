"""User-facing errors: one clear line, exit code 2, no traceback (unless --debug)."""


class UserError(Exception):
    """A problem with what the user asked for or supplied; the message names the problem and the fix."""

    exit_code = 2


class Terminated(UserError):
    """The run was stopped by SIGTERM (preemption) and left a checkpoint to resume from: exit 143 (128 + 15), the
    code a shell gives a process SIGTERM killed, so schedulers and ``icdbench grid`` see it as stopped."""

    exit_code = 143
