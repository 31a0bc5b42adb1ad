"""The checks before a decision, written once for every entry point (gait.pipeline): the profile
name, the `oss-prod` requirements, and the OAuth evidence of an MCP call (§1.5 step 5).

The two request forms keep the reference's wording of the same check: `gait gate eval` (an
intent) and `gait mcp proxy|serve` (an adapter's call) word their errors differently, and the
messages are a wire contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from gait.errors import InvalidInputError
from gait.gostrings import go_lower, go_trim_space
from gait.timefmt import GoTime

PROFILES: Final = ("standard", "oss-prod")
AUTH_MODES: Final = ("off", "none", "token", "oauth", "oauth_dcr")
FALLBACK_WARNING: Final = (
    "standard profile applied fallback intent context; use --profile oss-prod for strict context "
    "enforcement"
)
PERMISSIVE_POLICY: Final = (
    "oss-prod profile rejects policy default_verdict=allow; use default_verdict: block or "
    "require_approval"
)
ENVELOPE_PATH_REJECTED: Final = (
    "call.context.context_envelope_path is not supported; use --context-envelope at the boundary"
)
JOBS_UNSUPPORTED: Final = "job runtime state is not available in this version"


# The oss-prod messages of each request form: (simulate, key mode, permissive policy).
STRICT_MESSAGES: Final = {
    "intent": (
        "oss-prod profile does not allow --simulate",
        "oss-prod profile requires --key-mode prod with a private key",
        "oss-prod profile rejects default_verdict: allow",
    ),
    "call": (
        "oss-prod profile does not allow --simulate",
        "oss-prod profile requires --key-mode prod",
        PERMISSIVE_POLICY,
    ),
}


def check_profile(profile: str, form: str = "call") -> str:
    """`profile` if it is a known profile, else InvalidInputError in the form's wording."""
    if profile not in PROFILES:
        if form == "intent":
            raise InvalidInputError(f"unsupported --profile {profile!r} (use standard or oss-prod)")
        raise InvalidInputError(
            f'unsupported --profile value "{profile}" (expected standard or oss-prod)'
        )
    return profile


def check_strict(
    profile: str, *, key_mode: str, default_verdict: str, simulate: bool = False, form: str
) -> None:
    """The `oss-prod` requirements, in this order: no simulate mode, a production key, a policy
    whose default is not `allow`. Nothing to check for the `standard` profile."""
    if profile != "oss-prod":
        return
    simulate_msg, key_msg, permissive_msg = STRICT_MESSAGES[form]
    if simulate:
        raise InvalidInputError(simulate_msg)
    if key_mode != "prod":
        raise InvalidInputError(key_msg)
    if default_verdict == "allow":
        raise InvalidInputError(permissive_msg)


_OAUTH_REQUIRED: Final = (
    "issuer",
    "audience",
    "subject",
    "client_id",
    "token_type",
    "scopes",
    "redirect_uri",
    "evidence_ref",
)


def _nonempty(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, str) and go_trim_space(v) for v in value)
    return isinstance(value, str) and bool(go_trim_space(value))


def check_oauth(call: Mapping[str, Any], profile: str) -> None:
    """The OAuth boundary check of §1.5 step 5."""
    context = call.get("context") or {}
    auth_context = context.get("auth_context") or {}
    mode = go_lower(go_trim_space(context.get("auth_mode", "")))
    if not mode and isinstance(auth_context.get("oauth_mode"), str):
        mode = go_lower(go_trim_space(auth_context["oauth_mode"]))
    if not mode:
        if context.get("oauth_evidence") is None:
            return
        mode = "oauth"
    if mode not in AUTH_MODES:
        raise InvalidInputError("context.auth_mode must be one of off|none|token|oauth|oauth_dcr")
    if mode in ("off", "none", "token") or profile != "oss-prod":
        return
    evidence = context.get("oauth_evidence")
    if evidence is None and isinstance(auth_context.get("oauth_evidence"), dict):
        evidence = auth_context["oauth_evidence"]
    if evidence is None:
        raise InvalidInputError("oss-prod with OAuth auth mode requires context.oauth_evidence")
    required = _OAUTH_REQUIRED + (("dcr_client_id", "token_binding") if mode == "oauth_dcr" else ())
    missing = [name for name in required if not _nonempty(evidence.get(name))]
    auth_time = evidence.get("auth_time")
    if not _nonempty(auth_time):
        missing.append("auth_time")
    else:
        try:
            GoTime.parse(go_trim_space(auth_time))
        except ValueError:
            raise InvalidInputError("context.oauth_evidence.auth_time must be RFC3339") from None
    if missing:
        raise InvalidInputError(f"missing OAuth evidence fields: {', '.join(missing)}")
