"""Schema-driven fuzzing of `gait mcp serve`: request bodies generated from the OpenAPI
document it serves (and mutations that break it), sent over real HTTP. Never a 5xx, never a
hang (every request has a timeout), and nothing malformed is ever answered `allow`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mcp_server import Server

HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "docs" / "mcp-serve.openapi.json").read_text()
)["components"]["schemas"]["EvaluateRequest"]
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a JSON schema, for the subset the OpenAPI document uses (typed properties,
    required keys, no additional properties)."""
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v) for k, v in schema["properties"].items() if k in required},
            optional={
                k: from_schema(v) for k, v in schema["properties"].items() if k not in required
            },
        )
    if kind == "object":
        return st.dictionaries(
            st.text(max_size=10), JSON_VALUES, max_size=5
        ) | st.fixed_dictionaries(
            {"name": st.sampled_from(["tool.read", "tool.write", " ", "Tool.X"])},
            optional={
                "args": st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3),
                "targets": st.lists(
                    st.dictionaries(
                        st.sampled_from(["kind", "value", "operation"]), st.text(max_size=8)
                    ),
                    max_size=2,
                ),
                "context": st.dictionaries(
                    st.sampled_from(["identity", "risk_class", "session_id", "job_id"]),
                    st.text(max_size=8),
                ),
            },
        )
    if kind == "integer":
        return st.integers(min_value=-(2**70), max_value=2**70)
    if kind == "boolean":
        return st.booleans()
    return st.text(max_size=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("fuzz")
    # Allow by default: a malformed request answered `allow` would show here.
    (work / "allow.yaml").write_text(HEAD + "default_verdict: allow\n")
    server = Server(work, "--policy", "allow.yaml", "--max-request-bytes", "65536")
    yield server
    server.stop()


def _check(server: Server, body: bytes, *, well_formed: bool) -> None:
    response = server.request("POST", "/v1/evaluate", body, timeout=20)
    assert response.status < 500, (body, response.body)
    payload = json.loads(response.body)
    if response.status == 200:
        assert payload["ok"] is True and payload["executed"] is False
        assert payload["verdict"] in ("allow", "block", "require_approval", "dry_run")
        assert well_formed or payload["verdict"] != "allow", body
    else:
        assert payload["ok"] is False and payload["error"], body


@FUZZ
@given(request=from_schema(SCHEMA))
def test_schema_valid_requests(server: Server, request: dict[str, Any]) -> None:
    _check(server, json.dumps(request).encode(), well_formed=True)


def _invalid(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    fields = schema["properties"]
    wrong_type = st.sampled_from(sorted(fields)).flatmap(
        lambda name: JSON_VALUES.filter(
            lambda value: value is not None and not _fits(fields[name]["type"], value)
        ).map(lambda value: {"call": {"name": "tool.read"}, name: value})
    )
    unknown_key = (
        st.text(min_size=1, max_size=10)
        .filter(lambda k: k not in fields)
        .map(lambda key: {"call": {"name": "tool.read"}, key: 1})
    )
    not_an_object = JSON_VALUES.filter(lambda value: not isinstance(value, dict))
    return wrong_type | unknown_key | not_an_object


def _fits(kind: str, value: Any) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    python = {"string": str, "boolean": bool, "object": dict}[kind]
    return isinstance(value, python) and (kind == "boolean" or not isinstance(value, bool))


@FUZZ
@given(request=_invalid(SCHEMA))
def test_schema_invalid_requests_are_refused(server: Server, request: Any) -> None:
    response = server.request("POST", "/v1/evaluate", json.dumps(request).encode(), timeout=20)
    assert response.status == 400, (request, response.body)


@FUZZ
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_bytes_never_allow(server: Server, body: bytes) -> None:
    _check(server, body, well_formed=False)


@FUZZ
@given(
    call=JSON_VALUES,
    adapter=st.sampled_from(["mcp", "openai", "anthropic", "langchain", "claude_code"]),
)
def test_adapter_payloads_never_crash(server: Server, call: Any, adapter: str) -> None:
    body = json.dumps({"adapter": adapter, "call": call}).encode()
    response = server.request("POST", "/v1/evaluate", body, timeout=20)
    assert response.status < 500, (body, response.body)
