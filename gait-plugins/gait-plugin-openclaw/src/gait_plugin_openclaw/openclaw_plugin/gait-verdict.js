// How the Gait plugin asks Gait for a verdict on one OpenClaw tool call, and what it answers
// OpenClaw. Only an explicit `allow` lets the call run. Every other verdict, and every error,
// timeout or answer that is not a Gait decision, blocks it (fail closed): OpenClaw treats a
// handler that returns nothing as "no objection", so nothing here may end without a decision.
//
// In serve mode the token is never sent (unless plainBearer, for the reference's service): the
// plugin proves it holds it with an HMAC over a fresh nonce and the request, and honours only an
// answer whose X-Gait-Server-Auth is the service's HMAC over the same nonce, the request and the
// answer (gait.mcp.serviceauth, docs/security.md). A process that took the service's port learns
// nothing reusable and cannot make a call run.

import { spawn } from "node:child_process";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const CONFIG_FILE = "gait.config.json";
const ADAPTER = "openclaw";

const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_ERROR_CHARS = 300;
const EVALUATE_PATH = "/v1/evaluate";
// gait.mcp.serviceauth: a shorter token is refused by the service, and by us
const MIN_TOKEN_BYTES = 16;
// A decision's verdict and the exit code Gait gives it; a pair that disagrees is not trusted.
const EXIT_CODES = { allow: 0, dry_run: 0, block: 3, require_approval: 4 };
const DEFAULTS = {
  mode: "serve",
  serveUrl: "http://127.0.0.1:8787",
  tokenEnv: "",
  plainBearer: false,
  policy: "",
  gaitBin: "gait",
  proxyDir: "",
  privateKey: "",
  timeoutMs: 5000,
  workspace: "",
};
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const EVENT_FIELDS = [
  "toolName",
  "params",
  "toolCallId",
  "runId",
  "toolKind",
  "toolInputKind",
  "derivedPaths",
];
const CTX_FIELDS = ["agentId", "sessionKey", "sessionId", "runId", "channelId"];
const REQUESTER_FIELDS = ["channel", "accountId", "senderId", "senderIsOwner", "roleIds"];

/** The settings: OpenClaw's plugin config over the installer's gait.config.json over defaults.
 * Throws on anything invalid; the caller then blocks every call. */
export function loadSettings(rootDir, pluginConfig, env = process.env) {
  const settings = {
    ...DEFAULTS,
    ...checked(readConfigFile(join(rootDir, CONFIG_FILE)), CONFIG_FILE),
    ...checked(pluginConfig ?? {}, "the plugin config"),
  };
  if (settings.mode !== "serve" && settings.mode !== "proxy") {
    throw new Error(`mode must be serve or proxy, not ${JSON.stringify(settings.mode)}`);
  }
  if (settings.mode === "serve") {
    let url;
    try {
      url = new URL(settings.serveUrl);
    } catch {
      throw new Error(`serveUrl is not a URL: ${JSON.stringify(settings.serveUrl)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error("serveUrl must be an http or https URL");
    }
    if (url.username || url.password) {
      throw new Error("serveUrl must not carry credentials: use tokenEnv");
    }
    if (url.protocol === "http:" && !isLoopback(url.hostname)) {
      throw new Error(
        "serveUrl: plain http only to loopback (localhost, 127.0.0.0/8, [::1]); use https",
      );
    }
    if (!settings.tokenEnv && !settings.plainBearer) {
      throw new Error(
        "serve mode needs tokenEnv: without the token the plugin cannot tell the service from " +
          "another process on its port",
      );
    }
  }
  if (settings.tokenEnv && !ENV_NAME.test(settings.tokenEnv)) {
    throw new Error(`tokenEnv must name an environment variable, not ${settings.tokenEnv}`);
  }
  settings.policy ||= env.GAIT_POLICY ?? "";
  if (settings.mode === "proxy" && !settings.policy) {
    throw new Error("proxy mode needs a policy: set the plugin's policy or GAIT_POLICY");
  }
  const stateDir = env.OPENCLAW_STATE_DIR || join(homedir(), ".openclaw");
  settings.proxyDir ||= join(stateDir, "gait", "proxy");
  return Object.freeze(settings);
}

/** The Gas Town hook's rule (wire.split_service_url): localhost, 127.0.0.0/8 or ::1. */
export function isLoopback(hostname) {
  const host = hostname.toLowerCase();
  if (host === "localhost" || host === "[::1]" || host === "::1") return true;
  const parts = host.split(".");
  return (
    parts.length === 4 &&
    parts[0] === "127" &&
    parts.every((part) => /^[0-9]+$/.test(part) && Number(part) < 256)
  );
}

function readConfigFile(path) {
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error.code === "ENOENT") return {};
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${CONFIG_FILE} is not valid JSON`);
  }
}

function checked(config, where) {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new Error(`${where} must be an object`);
  }
  for (const [key, value] of Object.entries(config)) {
    if (!Object.hasOwn(DEFAULTS, key)) throw new Error(`${where} has an unknown key ${key}`);
    if (typeof value !== typeof DEFAULTS[key]) {
      throw new Error(`${where}: ${key} must be a ${typeof DEFAULTS[key]}`);
    }
  }
  const timeout = config.timeoutMs;
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 100 && timeout <= 60000)) {
    throw new Error(`${where}: timeoutMs must be an integer from 100 to 60000`);
  }
  return config;
}

/** What Gait's `openclaw` adapter reads: the hook's event and context, known fields only. */
function toolCallPayload(event, ctx, settings) {
  const payload = { event: pick(event, EVENT_FIELDS), ctx: pick(ctx, CTX_FIELDS) };
  if (ctx?.requester) payload.ctx.requester = pick(ctx.requester, REQUESTER_FIELDS);
  if (settings.workspace) payload.workspace = settings.workspace;
  return payload;
}

function pick(source, fields) {
  const out = {};
  for (const field of fields) {
    if (source?.[field] !== undefined) out[field] = source[field];
  }
  return out;
}

/** The hook's answer to one tool call. Never throws and never answers "no decision" unless
 * Gait's verdict is allow. */
export async function decide(settings, event, ctx, warn = () => {}) {
  const timeout = AbortSignal.timeout(settings.timeoutMs);
  try {
    // the tool call's own cancellation (OpenClaw's abortSignal) ends the wait too
    const signal = ctx?.abortSignal ? AbortSignal.any([timeout, ctx.abortSignal]) : timeout;
    const payload = toolCallPayload(event, ctx, settings);
    const decision =
      settings.mode === "proxy"
        ? await askProxy(settings, payload, signal)
        : await askServe(settings, payload, signal);
    return hookResult(decision, event?.toolName);
  } catch (error) {
    const reason = timeout.aborted ? `no verdict within ${settings.timeoutMs} ms` : describe(error);
    warn(`gait: tool call ${event?.toolName ?? "?"} blocked, no verdict: ${reason}`);
    return refuse(
      `Gait could not decide this tool call, so it does not run (fail-closed): ${reason}`,
    );
  }
}

export function refuse(reason) {
  return { block: true, blockReason: reason };
}

/** A Gait decision as a `before_tool_call` result. */
function hookResult(decision, toolName) {
  const why = explain(decision);
  switch (decision.verdict) {
    case "allow":
      return undefined;
    case "require_approval":
      return {
        requireApproval: {
          title: `Gait: approval required for ${toolName}`,
          description: `Gait policy requires an approval for this tool call (${why}).`,
          severity: "warning",
          // allow-always would let later calls skip the approval the policy asks for each time
          allowedDecisions: ["allow-once", "deny"],
        },
      };
    case "dry_run":
      return refuse(
        `Gait policy verdict is dry_run: the call is only simulated and does not run (${why}).`,
      );
    default:
      return refuse(`Gait blocked this tool call (${why}).`);
  }
}

function explain(decision) {
  const codes = Array.isArray(decision.reason_codes)
    ? decision.reason_codes.filter((code) => typeof code === "string")
    : [];
  const parts = [codes.length ? `reason codes: ${codes.join(", ")}` : "no reason code"];
  if (typeof decision.trace_id === "string" && decision.trace_id) {
    parts.push(`trace ${decision.trace_id}`);
  }
  return parts.join("; ");
}

async function askServe(settings, payload, signal) {
  const headers = { "content-type": "application/json" };
  const body = Buffer.from(JSON.stringify({ adapter: ADAPTER, call: payload }), "utf8");
  const url = new URL(`${settings.serveUrl.replace(/\/+$/, "")}${EVALUATE_PATH}`);
  const key = serviceToken(settings);
  let nonce = "";
  if (key && settings.plainBearer) {
    headers.authorization = `Bearer ${key.toString("utf8")}`;
  } else if (key) {
    nonce = randomBytes(32).toString("hex");
    Object.assign(headers, clientHeaders(key, nonce, Math.floor(Date.now() / 1000), url, body));
  }
  let response;
  try {
    response = await fetch(url, { method: "POST", headers, body, redirect: "error", signal });
  } catch (error) {
    throw fetchFailure(error);
  }
  const raw = await readCapped(response.body);
  if (nonce) {
    const claimed = response.headers.get("x-gait-server-auth") ?? "";
    if (!responseIsAuthentic(key, nonce, body, response.status, raw, claimed)) {
      throw new Error(
        `the service could not prove it holds the token (HTTP ${response.status} without a ` +
          "valid X-Gait-Server-Auth): it refused the plugin's proof, or it is not the service",
      );
    }
  }
  const text = raw.toString("utf8");
  if (!response.ok) {
    throw new Error(`gait mcp serve answered HTTP ${response.status}${errorOf(text)}`);
  }
  return decisionFrom(text, undefined);
}

/** Why fetch() failed, by its class and code only: undici's messages can quote a header's
 * value (an invalid one: "Bearer <token>"), and the reason goes to the log and to the model. */
function fetchFailure(error) {
  const name = typeof error?.name === "string" && /^\w{1,40}$/.test(error.name) ? error.name : "";
  const code = error?.cause?.code ?? error?.code;
  const parts = [name, typeof code === "string" && /^[A-Z0-9_]{1,40}$/.test(code) ? code : ""];
  // "fetch failed" is undici's fixed message for a network error; nothing else is repeated
  const what = error?.message === "fetch failed" ? "fetch failed" : "the request failed";
  const detail = parts.filter(Boolean).join(", ");
  return new Error(detail ? `${what} (${detail})` : what);
}

// What may go in an Authorization header: visible ASCII only (RFC 9110's VCHAR). A line break,
// NUL or other control character would make fetch() throw with the header, token included, in
// its message; the check below names the variable, never the token.
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]+$/;

function serviceToken(settings) {
  if (!settings.tokenEnv) return null;
  const token = process.env[settings.tokenEnv];
  if (!token) throw new Error(`the token variable ${settings.tokenEnv} is not set`);
  if (settings.plainBearer && !HEADER_SAFE_TOKEN.test(token)) {
    throw new Error(
      `the token in ${settings.tokenEnv} holds a space, a control character or a character ` +
        "outside ASCII, which cannot go in an Authorization header (plainBearer); the token " +
        "is not shown",
    );
  }
  const key = Buffer.from(token, "utf8");
  if (key.length < MIN_TOKEN_BYTES) {
    throw new Error(
      `the token in ${settings.tokenEnv} has ${key.length} bytes; the service needs at least ` +
        `${MIN_TOKEN_BYTES}`,
    );
  }
  return key;
}

// ---- gait.mcp.serviceauth, version 1 (a test checks these bytes against the Python side) ----

function sha256Hex(data) {
  return createHash("sha256").update(data).digest("hex");
}

function mac(key, parts) {
  return "v1=" + createHmac("sha256", key).update(parts.join("\n"), "utf8").digest("hex");
}

/** `X-Gait-Auth-Nonce`, `X-Gait-Auth-Time` and `X-Gait-Auth` for one request. */
export function clientHeaders(key, nonce, unixTime, url, body) {
  const path = new URL(url).pathname;
  const auth = mac(key, ["gait-request-v1", nonce, String(unixTime), "POST", path, sha256Hex(body)]);
  return {
    "x-gait-auth-nonce": nonce,
    "x-gait-auth-time": String(unixTime),
    "x-gait-auth": auth,
  };
}

/** The service's `X-Gait-Server-Auth` for this answer to this request. */
export function responseAuth(key, nonce, requestBody, status, body) {
  return mac(key, [
    "gait-response-v1",
    nonce,
    sha256Hex(requestBody),
    String(status),
    sha256Hex(body),
  ]);
}

export function responseIsAuthentic(key, nonce, requestBody, status, body, claimed) {
  if (!key?.length || !claimed) return false;
  const expected = Buffer.from(responseAuth(key, nonce, requestBody, status, body), "utf8");
  const given = Buffer.from(claimed, "utf8");
  return expected.length === given.length && timingSafeEqual(expected, given);
}

async function readCapped(stream) {
  if (!stream) return Buffer.alloc(0);
  const chunks = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > MAX_ANSWER_BYTES) throw new Error("the answer is larger than 1 MiB");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function askProxy(settings, payload, signal) {
  const body = JSON.stringify(payload);
  mkdirSync(settings.proxyDir, { recursive: true, mode: 0o700 });
  const args = ["mcp", "proxy", "--policy", settings.policy, "--call", "-"];
  args.push("--adapter", ADAPTER, "--json");
  if (settings.privateKey) args.push("--key-mode", "prod", "--private-key", settings.privateKey);
  return new Promise((resolve, reject) => {
    const child = spawn(settings.gaitBin, args, {
      cwd: settings.proxyDir,
      stdio: ["pipe", "pipe", "pipe"],
      signal,
      killSignal: "SIGKILL",
    });
    let stdout = "";
    let stderr = "";
    let failure;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (stdout.length > MAX_ANSWER_BYTES && !failure) {
        failure = new Error("the answer is larger than 1 MiB");
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (chunk) => {
      stderr = (stderr + chunk).slice(-MAX_ERROR_CHARS);
    });
    child.on("error", (error) => {
      failure ??= error.code === "ENOENT" ? new Error(`${settings.gaitBin} was not found`) : error;
    });
    child.on("close", (code, killedBy) => {
      if (failure) return reject(failure);
      if (code === null) return reject(new Error(`gait was stopped by ${killedBy}`));
      try {
        resolve(decisionFrom(stdout, code));
      } catch (error) {
        reject(stderr.trim() ? new Error(`${error.message}; stderr: ${stderr.trim()}`) : error);
      }
    });
    // gait may exit before reading its input (a bad flag); its exit code then says why
    child.stdin.on("error", () => {});
    child.stdin.end(body);
  });
}

/** The decision in Gait's answer, checked: ok, a known verdict, and the verdict's exit code. */
function decisionFrom(text, exitCode) {
  let decision;
  try {
    decision = JSON.parse(text);
  } catch {
    const from = exitCode === undefined ? "the answer" : `gait (exit ${exitCode})`;
    throw new Error(`${from} is not JSON`);
  }
  if (typeof decision !== "object" || decision === null || Array.isArray(decision)) {
    throw new Error("the answer is not a JSON object");
  }
  if (decision.ok !== true) throw new Error(`Gait answered ok=false${errorOf(text)}`);
  if (!Object.hasOwn(EXIT_CODES, decision.verdict)) {
    throw new Error("the answer carries no known verdict");
  }
  const code = exitCode ?? decision.exit_code;
  if (code !== EXIT_CODES[decision.verdict]) {
    throw new Error(`verdict ${decision.verdict} came with exit code ${code}`);
  }
  return decision;
}

function errorOf(text) {
  try {
    const error = JSON.parse(text)?.error;
    return typeof error === "string" && error ? `: ${error.slice(0, MAX_ERROR_CHARS)}` : "";
  } catch {
    return "";
  }
}

function describe(error) {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error?.cause?.code ?? error?.cause?.message;
  return (cause ? `${message} (${cause})` : message).slice(0, MAX_ERROR_CHARS);
}
