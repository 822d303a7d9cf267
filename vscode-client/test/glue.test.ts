// Unit tests of the glue: settings -> initialization options, server discovery, status logic.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { NotFound, type Probe, commandLine, findServer, serveArgs } from "../src/discovery";
import { contributedKeys, explicitSettings, snake, toServerOptions } from "../src/settings";
import { Status } from "../src/status";

const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));

test("camelCase keys become the server's nested snake_case sections; the client's own keys stay here", () => {
  assert.equal(snake("maxNewTokens"), "max_new_tokens");
  assert.deepEqual(toServerOptions({ "engine.maxNewTokens": 48, "safety.onMedium": "block",
    "context.policy": "instruct", "client.useDaemon": false, "safety.disabledRules": ["B101"] }),
  { engine: { max_new_tokens: 48 }, safety: { on_medium: "block", disabled_rules: ["B101"] },
    context: { policy: "instruct" } });
});

test("only what the user set is sent, the most specific scope winning, so codeward.toml still counts", () => {
  const seen: Record<string, object> = {
    "engine.maxNewTokens": { globalValue: 32, workspaceValue: 48 },
    "engine.temperature": {},  // only a default: not sent
    "safety.onHigh": { workspaceFolderValue: "warn", globalValue: "block" },
  };
  assert.deepEqual(explicitSettings(Object.keys(seen), (k) => seen[k]),
    { "engine.maxNewTokens": 48, "safety.onHigh": "warn" });
});

test("every contributed server setting maps to a section the server knows", () => {
  const keys = contributedKeys(manifest);
  assert.ok(keys.includes("engine.maxNewTokens") && keys.includes("client.serverPath"));
  const sections = new Set(keys.map((k) => k.split(".")[0]));
  assert.deepEqual([...sections].sort(), ["client", "completion", "context", "engine", "safety"]);
  for (const key of keys) {
    assert.match(key, /^[a-z]+\.[a-z][A-Za-z0-9]*$/, key);
  }
});

function probe(executables: string[], onPath: Record<string, string>, works: boolean): Probe {
  return { isExecutable: (p) => executables.includes(p), which: (n) => onPath[n], works: () => works };
}

test("discovery: the configured path, else codeward on PATH, else the interpreter, else one actionable error", () => {
  assert.deepEqual(findServer("/opt/cw/bin/codeward", "/usr/bin/python3", probe(["/opt/cw/bin/codeward"], {}, true)),
    { command: "/opt/cw/bin/codeward", prefix: [], source: "setting" });
  assert.equal(findServer("", "/usr/bin/python3", probe([], { codeward: "/usr/local/bin/codeward" }, true)).source,
    "PATH");
  const viaPython = findServer("", "/venv/bin/python", probe([], {}, true));
  assert.deepEqual(commandLine(viaPython, serveArgs(true)),
    { command: "/venv/bin/python", args: ["-m", "codeward", "serve", "--daemon"] });
  assert.throws(() => findServer("/nope/codeward", undefined, probe([], {}, true)),
    (e: Error) => e instanceof NotFound && /serverPath is "\/nope\/codeward", which is not an executable/.test(e.message));
  assert.throws(() => findServer("", "/usr/bin/python3", probe([], {}, false)),
    (e: Error) => /not on PATH, and the selected Python interpreter \(\/usr\/bin\/python3\) has no codeward/.test(
      e.message));
  assert.deepEqual(serveArgs(false), ["serve"]);
});

test("status: thinking while a request runs, idle with its latency after, disabled and error stay visible", () => {
  const s = new Status();
  assert.equal(s.state, "starting");
  s.started("qwen2.5-coder-0.5b");
  s.begin();
  assert.equal(s.state, "thinking");
  s.begin();
  s.end(120.4);
  assert.equal(s.state, "thinking");  // one request still running
  s.end(480.6);
  assert.equal(s.state, "idle");
  assert.equal(s.text(), "$(sparkle) codeward 481 ms");
  assert.match(s.tooltip(), /model: qwen2.5-coder-0.5b/);
  s.setEnabled(false);
  s.begin();
  assert.equal(s.state, "disabled");
  s.end(10);
  s.setEnabled(true);
  assert.equal(s.state, "idle");
  s.fail("the codeward server did not start");
  s.begin();
  assert.equal(s.state, "error");
  assert.match(s.tooltip(), /did not start/);
});
