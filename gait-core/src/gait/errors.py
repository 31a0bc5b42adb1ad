"""Exit codes, error categories and the JSON error envelope shared by every command."""

from __future__ import annotations

import enum
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
