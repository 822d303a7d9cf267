// Launches `codeward serve` exactly as the extension does (the same discovery, command line and initialization
// options, built by the same functions) and drives it over JSON-RPC: initialize -> didOpen -> inlineCompletion ->
// accept -> stats. CODEWARD_TEST_SERVER names the codeward executable (make test passes the venv's).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { type MessageConnection, StreamMessageReader, StreamMessageWriter, createMessageConnection }
  from "vscode-jsonrpc/node";
import { commandLine, findServer, nodeProbe, serveArgs } from "../src/discovery";
import { type Inspected, readSchema, resolveSettings } from "../src/settings";

const URI = "file:///tmp/codeward-vscode/greet.py";
const LINE = '    print("hello", ';
const TEXT = "def greet(name):\n" + LINE + "\n";

test("the extension's command line and options give an inline completion, an accept and the stats", async (t) => {
  const server = findServer(process.env.CODEWARD_TEST_SERVER ?? "", process.env.CODEWARD_TEST_PYTHON, nodeProbe);
  // useDaemon off: the test must not leave a per-user server behind (the daemon has its own tests)
  const line = commandLine(server, serveArgs(false));
  // advanced settings through codeward.advanced, and one the old way (codeward.completion.debounceMs: migrated)
  const user: Record<string, Inspected> = { "completion.debounceMs": { globalValue: 0 },
    advanced: { globalValue: { "engine.max_new_tokens": 6, "completion.timeout_s": 120 } } };
  const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  const options = resolveSettings(readSchema(manifest), (k) => user[k]).options;
  const state = mkdtempSync(path.join(tmpdir(), "codeward-vscode-"));
  const proc: ChildProcess = spawn(line.command, line.args, { env: { ...process.env,
    CODEWARD_ENGINE_MODEL: process.env.CODEWARD_ENGINE_MODEL ?? "smollm2-135m", XDG_STATE_HOME: state },
  stdio: ["pipe", "pipe", "inherit"] });
  const rpc: MessageConnection = createMessageConnection(new StreamMessageReader(proc.stdout!),
    new StreamMessageWriter(proc.stdin!));
  rpc.onRequest("workspace/configuration", (params: { items: { section?: string }[] }) =>
    params.items.map((i) => (i.section === "codeward" ? options : null)));
  rpc.onRequest(() => null);  // client/registerCapability, window/workDoneProgress/create
  rpc.listen();
  t.after(() => {
    rpc.dispose();
    proc.kill();
  });

  const init = await rpc.sendRequest("initialize", { processId: process.pid, rootUri: null,
    capabilities: { workspace: { configuration: true } }, initializationOptions: options }) as
    { serverInfo: { name: string }; capabilities: { inlineCompletionProvider?: unknown;
      executeCommandProvider?: { commands: string[] } } };
  assert.equal(init.serverInfo.name, "codeward");
  assert.ok(init.capabilities.inlineCompletionProvider, "no inline completion capability");
  await rpc.sendNotification("initialized", {});
  await rpc.sendNotification("textDocument/didOpen", { textDocument: { uri: URI, languageId: "python",
    version: 1, text: TEXT } });
  const result = await rpc.sendRequest("textDocument/inlineCompletion", { textDocument: { uri: URI },
    position: { line: 1, character: LINE.length }, context: { triggerKind: 1 } }) as
    { items: { insertText: string; command?: { command: string; arguments?: unknown[] } }[] };
  assert.ok(result.items.length > 0, "no inline suggestion");
  const item = result.items[0];
  assert.ok(item.insertText.startsWith(LINE) && item.insertText.length > LINE.length, item.insertText);
  assert.equal(item.command?.command, "codeward.acceptCompletion");
  assert.ok(init.capabilities.executeCommandProvider?.commands.includes("codeward.acceptCompletion"));
  await rpc.sendRequest("workspace/executeCommand", { command: item.command!.command,
    arguments: item.command!.arguments });  // what VS Code does when the user accepts the item
  const stats = await rpc.sendRequest("codeward/stats", {}) as { requests: number; shown: number; accepted: number;
    settings: { engine: { max_new_tokens: number } } };
  assert.equal(stats.requests, 1);
  assert.equal(stats.accepted, 1);
  assert.equal(stats.settings.engine.max_new_tokens, 6);  // the editor's setting reached the server
  await rpc.sendRequest("shutdown");
});
