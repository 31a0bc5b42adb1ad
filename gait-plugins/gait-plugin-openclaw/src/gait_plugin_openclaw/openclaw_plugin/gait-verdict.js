// How the Gait plugin asks Gait for a verdict on one OpenClaw tool call, and what it answers
// OpenClaw. Only an explicit `allow` lets the call run. Every other verdict, and every error,
// timeout or answer that is not a Gait decision, blocks it (fail closed): OpenClaw treats a
// handler that returns nothing as "no objection", so nothing here may end without a decision.

import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const CONFIG_FILE = "gait.config.json";
const ADAPTER = "openclaw";

const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_ERROR_CHARS = 300;
// A decision's verdict and the exit code Gait gives it; a pair that disagrees is not trusted.
const EXIT_CODES = { allow: 0, dry_run: 0, block: 3, require_approval: 4 };
const DEFAULTS = {
  mode: "serve",
  serveUrl: "http://127.0.0.1:8787",
  tokenEnv: "",
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
  if (settings.tokenEnv) {
    const token = process.env[settings.tokenEnv];
    if (!token) throw new Error(`the token variable ${settings.tokenEnv} is not set`);
    headers.authorization = `Bearer ${token}`;
  }
  const response = await fetch(`${settings.serveUrl.replace(/\/+$/, "")}/v1/evaluate`, {
    method: "POST",
    headers,
    body: JSON.stringify({ adapter: ADAPTER, call: payload }),
    redirect: "error",
    signal,
  });
  const text = await readCapped(response.body);
  if (!response.ok) {
    throw new Error(`gait mcp serve answered HTTP ${response.status}${errorOf(text)}`);
  }
  return decisionFrom(text, undefined);
}

async function readCapped(stream) {
  if (!stream) return "";
  const chunks = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > MAX_ANSWER_BYTES) throw new Error("the answer is larger than 1 MiB");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
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
