// Unit tests of the glue: settings -> initialization options, server discovery, status logic.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { NotFound, type Probe, type Trust, commandLine, findServer, nodeProbe, pickInterpreter, serveArgs,
  untrustedProblem } from "../src/discovery";
import { type Inspected, camel, contributedKeys, explicitSettings, notices, oldKey, readSchema, resolveSettings, snake,
  toServerOptions } from "../src/settings";
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
  assert.ok(keys.includes("engine.model") && keys.includes("client.serverPath") && !keys.includes("advanced"));
  const sections = new Set(keys.map((k) => k.split(".")[0]));
  assert.deepEqual([...sections].sort(), ["client", "completion", "context", "engine", "safety"]);
  for (const key of keys) {
    assert.match(key, /^[a-z]+\.[a-z][A-Za-z0-9]*$/, key);
  }
});

test("the manifest: at most 17 settings in the UI, advanced keys by their TOML names, machine-only keys known", () => {
  assert.ok(Object.keys(manifest.contributes.configuration.properties).length <= 17);
  const schema = readSchema(manifest);
  assert.ok(!schema.contributed.includes("advanced") && schema.contributed.includes("engine.model"));
  assert.ok(schema.advanced.includes("engine.n_ctx") && schema.advanced.includes("completion.debounce_ms"));
  assert.ok(!schema.advanced.some((k) => schema.contributed.includes(k) || k.startsWith("eval.")));
  for (const key of ["client.serverPath", "engine.model", "engine.baseUrl", "engine.model_dir", "engine.api_key_env"]) {
    assert.ok(schema.machine.has(key), key);
  }
  assert.ok(!schema.machine.has("engine.n_ctx") && !schema.machine.has("safety.onHigh"));
  assert.equal(camel("n_ctx"), "nCtx");
  assert.equal(oldKey("completion.prefetch_on_miss"), "completion.prefetchOnMiss");
});

/** An `inspect` over what the user wrote: `{key: {globalValue, workspaceValue, ...}}`. */
function written(values: Record<string, Inspected>): (key: string) => Inspected | undefined {
  return (key) => values[key];
}

test("advanced settings are sent under their nested snake_case names, merged with the user tier", () => {
  const resolved = resolveSettings(readSchema(manifest), written({
    "engine.model": { globalValue: "smollm2-135m" },
    "safety.onMedium": { workspaceValue: "block" },
    "client.useDaemon": { globalValue: false },
    advanced: { globalValue: { "engine.n_ctx": 8192, "completion.debounce_ms": 50, "safety.disabled_rules": ["B101"] },
      workspaceValue: { "completion.debounce_ms": 0 } },
  }));
  assert.deepEqual(resolved.options, { engine: { model: "smollm2-135m", n_ctx: 8192 },
    safety: { on_medium: "block", disabled_rules: ["B101"] }, completion: { debounce_ms: 0 } });
  assert.deepEqual([resolved.migrated, resolved.unknown, resolved.ignored], [[], [], []]);
  assert.deepEqual(notices(resolved, new Set()), []);
});

test("migration: a now-advanced setting set the old way is forwarded, with one notice naming its new place", () => {
  const schema = readSchema(manifest);
  const user = written({
    "engine.nCtx": { globalValue: 2048 },
    "completion.debounceMs": { workspaceValue: 75 },
    "context.prefixTokens": { globalValue: 512 },
    advanced: { globalValue: { "context.prefix_tokens": 640 } },  // the new place wins over the old one
  });
  const resolved = resolveSettings(schema, user);
  assert.deepEqual(resolved.options, { engine: { n_ctx: 2048 }, completion: { debounce_ms: 75 },
    context: { prefix_tokens: 640 } });
  assert.deepEqual(resolved.migrated.map((m) => m.old).sort(),
    ["codeward.completion.debounceMs", "codeward.context.prefixTokens", "codeward.engine.nCtx"]);
  const told = new Set<string>();
  const first = notices(resolved, told);
  assert.equal(first.length, 1);
  assert.match(first[0], /codeward\.engine\.nCtx.* now set in codeward\.advanced as .*"engine\.n_ctx"/);
  assert.deepEqual(notices(resolveSettings(schema, user), told), []);  // once per session
});

test("keys a project may not set: workspace values are dropped and named, the user's own value is sent", () => {
  const resolved = resolveSettings(readSchema(manifest), written({
    "engine.model": { globalValue: "mine", workspaceValue: "/repo/evil.gguf" },
    "engine.baseUrl": { workspaceFolderValue: "http://attacker:80/v1" },
    "engine.modelDir": { workspaceValue: "/repo/models" },  // an old-way advanced key
    advanced: { globalValue: { "engine.api_key_env": "MY_KEY" },
      workspaceValue: { "engine.api_key_env": "OTHER_KEY", "engine.draft_model": "/repo/d.gguf", "engine.n_ctx": 1024 } },
  }));
  assert.deepEqual(resolved.options, { engine: { model: "mine", api_key_env: "MY_KEY", n_ctx: 1024 } });
  assert.deepEqual(resolved.ignored, ["codeward.engine.model", "codeward.engine.baseUrl", "codeward.engine.modelDir",
    'codeward.advanced "engine.api_key_env"', 'codeward.advanced "engine.draft_model"']);
  const [message] = notices(resolved, new Set());
  assert.match(message, /codeward\.engine\.model, .* read from your user settings only/);
});

test("unknown keys of codeward.advanced are not sent, and the notice says what to write instead", () => {
  const resolved = resolveSettings(readSchema(manifest), written({
    advanced: { globalValue: { "engine.nCtx": 1, "engine.model": "x", engine: { n_ctx: 1 }, "nosuch.key": 2,
      "eval.temperature": 0.8 } },
  }));
  assert.deepEqual(resolved.options, {});
  const hints = Object.fromEntries(resolved.unknown.map((u) => [u.key, u.hint]));
  assert.match(hints["engine.nCtx"], /write "engine\.n_ctx"/);
  assert.match(hints["engine.model"], /set codeward\.engine\.model/);
  assert.match(hints.engine, /"engine\.n_ctx"/);
  assert.match(hints["nosuch.key"], /not an advanced codeward setting/);
  assert.match(hints["eval.temperature"], /not an advanced codeward setting/);
  const told = new Set<string>();
  assert.match(notices(resolved, told)[0], /^codeward: ignored in codeward\.advanced: "engine\.nCtx" \(write/);
  assert.deepEqual(notices(resolved, told), []);
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

test("Restricted Mode: limited support, and every key read from user settings only is a restricted one", () => {
  const untrusted = manifest.capabilities.untrustedWorkspaces;
  assert.equal(untrusted.supported, "limited");
  assert.match(untrusted.description, /never the workspace's Python interpreter/);
  const schema = readSchema(manifest);
  const machine = schema.contributed.filter((k) => schema.machine.has(k)).map((k) => `codeward.${k}`).sort();
  assert.deepEqual(untrusted.restrictedConfigurations, machine);
  assert.ok(machine.includes("codeward.client.serverPath") && machine.includes("codeward.engine.baseUrl"));
});

const REPO: Trust = { trusted: false, folders: ["/home/me/cloned"] };

test("untrusted workspace: a program in its folders, a relative path or an unresolved variable is refused", () => {
  assert.equal(untrustedProblem("/home/me/cloned/.venv/bin/python", REPO.folders), "it is inside the workspace");
  assert.equal(untrustedProblem("/home/me/cloned", REPO.folders), "it is inside the workspace");
  assert.equal(untrustedProblem("/home/me/cloned/../cloned/bin/codeward", REPO.folders), "it is inside the workspace");
  assert.equal(untrustedProblem(".venv/bin/python", REPO.folders), "it is a relative path");
  assert.equal(untrustedProblem("${workspaceFolder}/.venv/bin/python", REPO.folders),
    "it holds an unresolved variable");
  assert.equal(untrustedProblem("/home/me/cloned-other/bin/python", REPO.folders), undefined);
  assert.equal(untrustedProblem("/usr/bin/python3", REPO.folders), undefined);
  assert.equal(untrustedProblem("python3", REPO.folders), undefined);  // looked up on PATH
});

test("the interpreter: the workspace's choice when trusted; only the user's own, outside the repo, when not", () => {
  const setting = { defaultValue: "python", globalValue: "/usr/bin/python3",
    workspaceValue: "/home/me/cloned/.venv/bin/python" };
  assert.deepEqual(pickInterpreter({ ...REPO, trusted: true }, "/home/me/cloned/.venv/bin/python", setting),
    { path: "/home/me/cloned/.venv/bin/python", ignored: [] });
  assert.deepEqual(pickInterpreter({ ...REPO, trusted: true }, undefined, setting),
    { path: "/home/me/cloned/.venv/bin/python", ignored: [] });
  const untrusted = pickInterpreter(REPO, "/home/me/cloned/.venv/bin/python", setting);
  assert.equal(untrusted.path, "/usr/bin/python3");
  assert.deepEqual(untrusted.ignored, ["the Python extension's selected interpreter (/home/me/cloned/.venv/bin/python)",
    "the workspace's python.defaultInterpreterPath (/home/me/cloned/.venv/bin/python)"]);
  assert.deepEqual(pickInterpreter(REPO, undefined, { defaultValue: "python", workspaceFolderValue: "/x/python" }),
    { path: "python", ignored: ["the workspace's python.defaultInterpreterPath (/x/python)"] });
  assert.deepEqual(pickInterpreter(REPO, undefined, { globalValue: "${workspaceFolder}/.venv/bin/python" }),
    { ignored: ["python.defaultInterpreterPath ${workspaceFolder}/.venv/bin/python (it holds an unresolved variable)"] });
  assert.deepEqual(pickInterpreter(REPO, undefined, undefined), { path: undefined, ignored: [] });
});

test("discovery in an untrusted workspace: no codeward or interpreter inside it, and the error says why", () => {
  const onPath = ["/home/me/cloned/bin/codeward", "/usr/local/bin/codeward"];
  const probe: Probe = { isExecutable: () => true, works: () => true,
    which: (_name, accept) => onPath.find((p) => !accept || accept(p)) };
  assert.equal(findServer("", undefined, probe, REPO).command, "/usr/local/bin/codeward");
  assert.equal(findServer("", undefined, probe, { ...REPO, trusted: true }).command, "/home/me/cloned/bin/codeward");
  assert.equal(findServer("", undefined, probe).command, "/home/me/cloned/bin/codeward");  // no trust given: as before
  // the user's own serverPath is the user's choice, even inside the folder
  assert.equal(findServer("/home/me/cloned/bin/codeward", undefined, probe, REPO).source, "setting");
  const nothing: Probe = { isExecutable: () => false, which: (_n, accept) =>
    ["/home/me/cloned/bin/codeward"].find((p) => !accept || accept(p)), works: () => true };
  assert.throws(() => findServer("", "/home/me/cloned/.venv/bin/python", nothing, REPO),
    (e: Error) => e instanceof NotFound && /not on PATH\. Install/.test(e.message) &&
      /This workspace is not trusted, so neither an interpreter it chose nor a program inside it/.test(e.message));
  assert.equal(findServer("", "/usr/bin/python3", nothing, REPO).source, "interpreter");
});

test("the PATH lookup skips relative entries and the ones `accept` refuses", (t) => {
  const root = mkdtempSync(path.join(tmpdir(), "codeward-which-"));
  const [inside, outside] = [path.join(root, "repo", "bin"), path.join(root, "user", "bin")];
  for (const dir of [inside, outside]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "codeward"), "#!/bin/sh\n");
    chmodSync(path.join(dir, "codeward"), 0o755);
  }
  const saved = process.env.PATH;
  t.after(() => { process.env.PATH = saved; });
  process.env.PATH = [path.relative(process.cwd(), inside), inside, outside].join(path.delimiter);
  assert.equal(nodeProbe.which("codeward"), path.join(inside, "codeward"));
  const repo: Trust = { trusted: false, folders: [path.join(root, "repo")] };
  assert.equal(nodeProbe.which("codeward", (p) => untrustedProblem(p, repo.folders) === undefined),
    path.join(outside, "codeward"));
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
