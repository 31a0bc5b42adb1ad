"""The plugin's HMAC exchange (gait-verdict.js, node:crypto) is gait.mcp.serviceauth's, byte for
byte: the request headers it sends and the response proof it checks, on vectors computed here."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from gait_plugin_openclaw.package import PACKAGE_DIR

from gait.mcp import serviceauth

SCRIPT = """
import { clientHeaders, responseAuth, responseIsAuthentic } from %s;
let input = "";
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map((v) => {
  const key = Buffer.from(v.key, "hex");
  const body = Buffer.from(v.body, "hex");
  const answer = Buffer.from(v.answer, "hex");
  return {
    headers: clientHeaders(key, v.nonce, v.time, v.url, body),
    response: responseAuth(key, v.nonce, body, v.status, answer),
    accepts: responseIsAuthentic(key, v.nonce, body, v.status, answer, v.claimed),
    acceptsOther: responseIsAuthentic(key, v.nonce, body, v.status + 1, answer, v.claimed),
  };
});
process.stdout.write(JSON.stringify(out));
"""


def test_the_js_exchange_is_serviceauths(node_bin: Path) -> None:
    vectors: list[dict[str, Any]] = []
    for index, key in enumerate(
        [b"0123456789abcdef", b"k" * 64, b"longer than a block " * 5, "clé-ünïcode-token".encode()]
    ):
        body = json.dumps({"adapter": "openclaw", "call": {"n": index, "s": "é"}}).encode()
        answer = os.urandom(index * 50)
        nonce = serviceauth.new_nonce()
        vectors.append(
            {
                "key": key.hex(),
                "nonce": nonce,
                "time": 1_700_000_000 + index,
                "url": "http://127.0.0.1:8787/v1/evaluate",
                "body": body.hex(),
                "answer": answer.hex(),
                "status": [200, 400, 401, 409][index],
                "claimed": serviceauth.response_auth(
                    key, nonce, body, [200, 400, 401, 409][index], answer
                ),
            }
        )
    module = json.dumps((PACKAGE_DIR / "gait-verdict.js").as_uri())
    done = subprocess.run(
        [str(node_bin / "node"), "--input-type=module", "-e", SCRIPT % module],
        input=json.dumps(vectors),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results = json.loads(done.stdout)
    for vector, result in zip(vectors, results, strict=True):
        key, body = bytes.fromhex(vector["key"]), bytes.fromhex(vector["body"])
        expected = serviceauth.client_headers(
            key, "POST", "/v1/evaluate", body, nonce=vector["nonce"], unix_time=vector["time"]
        )
        assert result["headers"] == expected
        assert result["response"] == vector["claimed"]
        assert result["accepts"] is True and result["acceptsOther"] is False
