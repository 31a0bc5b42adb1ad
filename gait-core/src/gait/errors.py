"""Exit codes, error categories and the JSON error envelope shared by every command."""

from __future__ import annotations

import enum
import errno
import os
from typing import Any


class ExitCode(enum.IntEnum):
    OK = 0
    INTERNAL = 1
    VERIFICATION_FAILED = 2
    POLICY_BLOCKED = 3
    APPROVAL_REQUIRED = 4
    REGRESSION_FAILED = 5
    INVALID_INPUT = 6
    MISSING_DEPENDENCY = 7
    UNSAFE_OPERATION = 8


class Category(enum.StrEnum):
    INVALID_INPUT = "invalid_input"
    VERIFICATION_FAILED = "verification_failed"
    POLICY_BLOCKED = "policy_blocked"
    APPROVAL_REQUIRED = "approval_required"
    DEPENDENCY_MISSING = "dependency_missing"
    IO_FAILURE = "io_failure"
    STATE_CONTENTION = "state_contention"
    NETWORK_TRANSIENT = "network_transient"
    NETWORK_PERMANENT = "network_permanent"
    INTERNAL_FAILURE = "internal_failure"
    UNSAFE_OPERATION = "unsafe_operation"
    REGRESS_FAILED = "regress_failed"


_EXIT_BY_CATEGORY = {
    Category.INVALID_INPUT: ExitCode.INVALID_INPUT,
    Category.VERIFICATION_FAILED: ExitCode.VERIFICATION_FAILED,
    Category.POLICY_BLOCKED: ExitCode.POLICY_BLOCKED,
    Category.APPROVAL_REQUIRED: ExitCode.APPROVAL_REQUIRED,
    Category.DEPENDENCY_MISSING: ExitCode.MISSING_DEPENDENCY,
    Category.UNSAFE_OPERATION: ExitCode.UNSAFE_OPERATION,
    Category.REGRESS_FAILED: ExitCode.REGRESSION_FAILED,
}

_ERROR_CODE_BY_EXIT = {
    ExitCode.INVALID_INPUT: "invalid_input",
    ExitCode.VERIFICATION_FAILED: "verification_failed",
    ExitCode.POLICY_BLOCKED: "policy_blocked",
    ExitCode.APPROVAL_REQUIRED: "approval_required",
    ExitCode.MISSING_DEPENDENCY: "dependency_missing",
    ExitCode.UNSAFE_OPERATION: "unsafe_operation",
    ExitCode.REGRESSION_FAILED: "regress_failed",
}

_HINT_BY_EXIT = {
    ExitCode.INVALID_INPUT: "check command usage and input schema",
    ExitCode.VERIFICATION_FAILED: "re-run verify after checking artifact integrity",
    ExitCode.POLICY_BLOCKED: "inspect reason_codes and adjust policy or intent",
    ExitCode.APPROVAL_REQUIRED: "provide a valid approval token and retry",
    ExitCode.MISSING_DEPENDENCY: "install or configure the missing dependency and retry",
    ExitCode.UNSAFE_OPERATION: "pass explicit unsafe flags only for approved replay paths",
}
_DEFAULT_HINT = "retry after checking local environment and logs"
_RETRYABLE = {Category.NETWORK_TRANSIENT, Category.STATE_CONTENTION}


def exit_code_for(category: Category) -> ExitCode:
    return _EXIT_BY_CATEGORY.get(category, ExitCode.INTERNAL)


def category_for_exit(code: int) -> Category:
    """The category a command's own exit code stands for (internal failure when none does)."""
    for category, exit_code in _EXIT_BY_CATEGORY.items():
        if exit_code == code:
            return category
    return Category.INTERNAL_FAILURE


class GaitError(Exception):
    """An error with a category; the CLI turns it into an exit code and the error envelope.

    `hint` replaces the envelope's default hint for the exit code when the fix is known (for
    example the package to install)."""

    category: Category = Category.INTERNAL_FAILURE
    hint: str = ""

    def __init__(self, message: str, *, category: Category | None = None, hint: str = "") -> None:
        super().__init__(message)
        if category is not None:
            self.category = category
        if hint:
            self.hint = hint

    @property
    def exit_code(self) -> ExitCode:
        return exit_code_for(self.category)


class InvalidInputError(GaitError):
    category = Category.INVALID_INPUT


class VerificationError(GaitError):
    category = Category.VERIFICATION_FAILED


class DependencyMissingError(GaitError):
    category = Category.DEPENDENCY_MISSING


class StateContentionError(GaitError):
    category = Category.STATE_CONTENTION


class FileWriteError(GaitError):
    """A file could not be written: the message names it, the hint says what to do."""

    category = Category.IO_FAILURE


class OutputPathError(InvalidInputError, FileWriteError):
    """A file could not be written because of the path named: invalid input."""


# Errors of the path named (it cannot hold a file, or this user may not write it: the caller's to
# fix, invalid input as the reference has it), then errors of the machine (full, read-only,
# failing: an I/O failure). The advice names the file or `{folder}`, the folder it goes in.
_DENIED = "this user may not write {path}: allow it to write in {folder} or choose another path"
_PATH_ERRORS = {
    errno.EACCES: _DENIED,
    errno.EPERM: _DENIED,
    errno.ENOTDIR: "a parent of {path} is not a folder: choose another path",
    errno.EEXIST: "a parent of {path} is not a folder: choose another path",
    errno.EISDIR: "{path} is a folder: name a file",
    errno.ENOENT: "a folder on the way to {path} does not exist: create it or choose another path",
    errno.ENAMETOOLONG: "{path} is too long a name: choose a shorter path",
    errno.ELOOP: "{path} goes through a loop of symbolic links: choose another path",
}
_MACHINE_ERRORS = {
    errno.ENOSPC: "the file system that holds {folder} is full: free space or choose another path",
    errno.EDQUOT: "the disk quota for {folder} is used up: free space, raise the quota or choose "
    "another path",
    errno.EROFS: "{folder} is on a read-only file system: choose a path on a writable one",
}
_OTHER_ERROR = "the file system that holds {folder} failed: check it and the system log, then retry"


def write_failure(
    path: str | os.PathLike[str], exc: OSError, what: str = "file", *, doing: str = ""
) -> FileWriteError:
    """The error for `exc`, raised while writing `what` at `path`, naming the file and the fix.

    The message is `cannot write <what> <path>: <reason>`, or `<doing> <path>: <reason>` when
    the reference has its own words for it (`append export`)."""
    where = os.fspath(path)
    fields = {"path": where, "folder": os.path.dirname(where) or "."}
    reason = exc.strerror or str(exc)
    message = f"{doing or 'cannot write ' + what} {where}: {reason}"
    code = exc.errno or 0
    if code in _PATH_ERRORS:
        return OutputPathError(message, hint=_PATH_ERRORS[code].format(**fields))
    advice = _MACHINE_ERRORS.get(code, _OTHER_ERROR)
    return FileWriteError(message, hint=advice.format(**fields))


def error_envelope(message: str, category: Category, hint: str = "") -> dict[str, Any]:
    """The keys of every JSON error: error, error_code, error_category, retryable, hint."""
    code = exit_code_for(category)
    return {
        "ok": False,
        "error": message,
        "error_code": _ERROR_CODE_BY_EXIT.get(code, "internal_failure"),
        "error_category": str(category),
        "retryable": category in _RETRYABLE,
        "hint": hint or _HINT_BY_EXIT.get(code, _DEFAULT_HINT),
    }
