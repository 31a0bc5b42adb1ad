#!/usr/bin/env node
// What would the Gait plugin decide about a tool call? Uses the installed plugin's settings
// (gait.config.json, GAIT_POLICY, ...) and the same code path as the before_tool_call hook.
//   gait-check.mjs <tool> ['<params as JSON>']
// Prints one JSON object; exits 0 (would run), 3 (blocked), 4 (approval required), 6 (usage).

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decide, loadSettings } from "../../gait-verdict.js";

const EXIT = { allow: 0, block: 3, require_approval: 4, usage: 6 };

function finish(outcome, fields) {
  process.stdout.write(`${JSON.stringify({ outcome, ...fields })}\n`);
  process.exit(EXIT[outcome]);
}

const [tool, paramsText = "{}", ...extra] = process.argv.slice(2);
if (!tool || extra.length || tool.startsWith("-")) {
  finish("usage", { error: "usage: gait-check.mjs <tool> ['<params as JSON>']" });
}
let params;
try {
  params = JSON.parse(paramsText);
} catch {
  finish("usage", { error: "params must be JSON" });
}
if (typeof params !== "object" || params === null || Array.isArray(params)) {
  finish("usage", { error: "params must be a JSON object" });
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
let settings;
try {
  settings = loadSettings(root, {});
} catch (error) {
  finish("block", { tool, reason: `the Gait plugin is misconfigured: ${error.message}` });
}
const result = await decide(settings, { toolName: tool, params }, {});
if (result?.requireApproval) {
  finish("require_approval", { tool, reason: result.requireApproval.description });
}
if (result?.block) finish("block", { tool, reason: result.blockReason });
finish("allow", { tool });
