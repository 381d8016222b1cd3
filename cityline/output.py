"""What every `cityline` command prints with: the consoles for output and errors, and the error a user can fix."""

from rich.console import Console

console = Console()
errors = Console(stderr=True)


class UserError(Exception):
    """Something the user can fix; printed without a traceback, exit code 2."""
