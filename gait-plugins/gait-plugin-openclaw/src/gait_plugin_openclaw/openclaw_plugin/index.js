// The Gait plugin for OpenClaw: Gait decides every tool call before it runs.
// Settings come from OpenClaw's plugin config over gait.config.json (written by
// `gait openclaw install`); gait-verdict.js asks Gait and maps its verdict.

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { decide, loadSettings, refuse } from "./gait-verdict.js";

const HERE = dirname(fileURLToPath(import.meta.url));
// Run before other plugins' handlers: a block is terminal, and later handlers cannot undo it.
const PRIORITY = 1000;
// How much longer than our own timeout OpenClaw waits for the handler, so that our block, with
// its reason, comes before OpenClaw's own timeout block.
const HOOK_GRACE_MS = 2000;

export default {
  id: "gait",
  name: "Gait",
  description: "Gait decides every tool call before it runs; only an allow verdict lets it run.",
  register(api) {
    const warn = (message) => api.logger?.warn?.(message);
    let handler;
    let timeoutMs;
    try {
      const settings = loadSettings(HERE, api.pluginConfig);
      handler = (event, ctx) => decide(settings, event, ctx, warn);
      timeoutMs = settings.timeoutMs + HOOK_GRACE_MS;
    } catch (error) {
      // A plugin that fails to register gates nothing, so a bad setting blocks every call instead.
      const reason =
        `the Gait plugin is misconfigured, so no tool call runs (fail-closed): ${error.message}`;
      warn(`gait: ${reason}`);
      handler = () => refuse(reason);
    }
    const options = { priority: PRIORITY, ...(timeoutMs ? { timeoutMs } : {}) };
    api.on("before_tool_call", handler, options);
  },
};
