"""The canonical JSON fast path is byte-identical to the rfc8785 package."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from gait.canonical import canonical_json, digest, short_id

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=500)
@given(json_values)
def test_fast_path_equals_rfc8785(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_known_differences_from_plain_json_dumps_are_handled() -> None:
    assert canonical_json({"a": 1.0, "b": 1e-7, "c": -0.0}) == b'{"a":1,"b":1e-7,"c":0}'
    # Fractions take the fast path (a trace's latency_ms); exponents and huge integers do not.
    floats = {"ms": 0.123456, "neg": -2.5, "small": 5e-05, "big": 1.5e300, "int": 2.0**60}
    assert canonical_json(floats) == rfc8785.dumps(floats)
    assert canonical_json({"\ue000": 1, "\U0001f600": 2}) == rfc8785.dumps(
        {"\ue000": 1, "\U0001f600": 2}
    )
    assert canonical_json("\x01\u2028") == b'"\\u0001\xe2\x80\xa8"'


def test_digest_and_short_id() -> None:
    assert digest({}) == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    # gate.md section 11.1 D5: trace_id = short_id(policy_digest:intent_digest:verdict)
    policy = "f4581f55c41a3ee69b316c95f66fbfc293ae7f06e6458491e3ca232dfb26608c"
    intent = "74d4a052fd27c63f110e0879f227215aed15a8e522946d38a2fb515374fbafa8"
    assert short_id(f"{policy}:{intent}:block") == "9a714d67a491c4bd98dd7983"
