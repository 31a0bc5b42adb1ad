"""The key-source flags shared by commands, with the reference's names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def verify_key_options(func: F) -> F:
    """--public-key[-env] and --private-key[-env] (a private key yields its public half)."""
    for flag, text in reversed(
        [
            ("--public-key", "Public key file."),
            ("--public-key-env", "Environment variable holding the public key."),
            ("--private-key", "Private key file (its public half is used)."),
            ("--private-key-env", "Environment variable holding the private key."),
        ]
    ):
        func = click.option(flag, default="", help=text)(func)
    return func
