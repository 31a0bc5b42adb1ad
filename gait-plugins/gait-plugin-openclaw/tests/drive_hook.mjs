// Drives an installed Gait plugin the way OpenClaw does: import its entry module, call
// register(api), then run the registered before_tool_call handler once.
//   node drive_hook.mjs <plugin dir>   stdin: {"event", "ctx", "pluginConfig"}
// Prints {"hooks": [{name, opts}], "result": <handler result or null>, "ms", "warnings"}.

import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [pluginDir] = process.argv.slice(2);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { event, ctx, pluginConfig } = JSON.parse(input);

const plugin = (await import(pathToFileURL(join(pluginDir, "index.js")).href)).default;
const hooks = [];
const warnings = [];
plugin.register({
  id: plugin.id,
  rootDir: pluginDir,
  pluginConfig,
  logger: { warn: (message) => warnings.push(message), info() {}, error() {}, debug() {} },
  on: (name, handler, opts) => hooks.push({ name, handler, opts }),
});

const started = performance.now();
const result = await hooks[0].handler(event, ctx);
const ms = performance.now() - started;
process.stdout.write(
  JSON.stringify({
    hooks: hooks.map(({ name, opts }) => ({ name, opts })),
    result: result ?? null,
    ms,
    warnings,
  }),
);
