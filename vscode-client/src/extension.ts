// codeward for VS Code: starts `codeward serve` (the per-user server by default), sends the settings the user set,
// shows a status bar item, and offers toggle / stats / review / restart commands. In an untrusted workspace
// (Restricted Mode, `capabilities.untrustedWorkspaces: limited`) it starts no interpreter or program the workspace
// chose; the keys a project may not set are read from the user's settings in every workspace.

import { execFile } from "node:child_process";
import * as path from "node:path";
import * as vscode from "vscode";
import { LanguageClient, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";
import { type InterpreterChoice, NotFound, type ServerCommand, type Trust, commandLine, findServer, nodeProbe,
  pickInterpreter, serveArgs } from "./discovery";
import { type SettingsSchema, notices, readSchema, resolveSettings } from "./settings";
import { Status } from "./status";

let client: LanguageClient | undefined;
let server: ServerCommand | undefined;
const status = new Status();
const told = new Set<string>();  // the settings already named in a notice this session

function trustNow(): Trust {
  return { trusted: vscode.workspace.isTrusted,
    folders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath) };
}

/** The Python extension's selected interpreter, when it is installed (asked in a trusted workspace only). */
async function selectedInterpreter(): Promise<string | undefined> {
  try {
    const python = vscode.extensions.getExtension("ms-python.python");
    const api = python?.isActive ? python.exports : await python?.activate();
    const env = api?.environments?.getActiveEnvironmentPath?.();
    return env?.path ? env.path as string : undefined;
  } catch {
    return undefined;  // fall back to the setting
  }
}

/** The interpreter that may run the server (see `pickInterpreter`). */
async function interpreter(trust: Trust): Promise<InterpreterChoice> {
  const setting = vscode.workspace.getConfiguration("python").inspect<string>("defaultInterpreterPath");
  return pickInterpreter(trust, trust.trusted ? await selectedInterpreter() : undefined, setting);
}

/** Says once per session which interpreter an untrusted workspace was refused, when it could have mattered (no
 * server found, or one run by another interpreter). */
function tellRefused(choice: InterpreterChoice): void {
  if (server && server.source !== "interpreter") {
    return;
  }
  const fresh = choice.ignored.filter((item) => !told.has(`interpreter ${item}`));
  if (fresh.length) {
    fresh.forEach((item) => told.add(`interpreter ${item}`));
    void vscode.window.showWarningMessage(`codeward: this workspace is not trusted, so ${fresh.join(" and ")} ` +
      `${fresh.length > 1 ? "are" : "is"} not used to run the server (your user settings and PATH are); trust ` +
      "the workspace to use it.");
  }
}

/** What the user set, in the server's keys; says once per session what was migrated, unknown or ignored. */
function serverOptionsNow(schema: SettingsSchema): Record<string, Record<string, unknown>> {
  const config = vscode.workspace.getConfiguration("codeward");
  const resolved = resolveSettings(schema, (k) => config.inspect(k));
  for (const message of notices(resolved, told)) {
    void vscode.window.showWarningMessage(message, "Open Settings (JSON)").then((choice) => choice &&
      vscode.commands.executeCommand("workbench.action.openSettingsJson"));
  }
  return resolved.options;
}

function run(args: string[]): Promise<string> {
  if (!server) {
    return Promise.reject(new Error("the codeward server was not found"));
  }
  const line = commandLine(server, args);
  return new Promise((resolve, reject) => {
    execFile(line.command, line.args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      // `review` exits 1 when it has findings: only a missing output is a failure
      if (error && !stdout) {
        reject(new Error(stderr || error.message));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** The model the server will load, as far as the extension can tell: the VS Code setting, else the environment's
 * CODEWARD_ENGINE_MODEL, else codeward's default (codeward.toml is the server's to read). */
function modelInForce(): string | undefined {
  const seen = vscode.workspace.getConfiguration("codeward").inspect<string>("engine.model");
  return seen?.globalValue ?? process.env.CODEWARD_ENGINE_MODEL;  // machine scope: the user's settings only
}

/** When the model in force is a registry model whose parts are installed but not assembled yet, offer to assemble
 * it now with a progress notification (the first suggestion would otherwise wait for it). Not awaited by start: a
 * user who ignores the offer still gets a server. */
async function offerModelInstall(): Promise<void> {
  let listing: { models?: { name: string; default?: boolean; assembled?: boolean; installed?: boolean }[] };
  try {
    listing = JSON.parse(await run(["models", "list", "--json"]));
  } catch {
    return;  // an older codeward or a remote setup: the first completion says what is wrong
  }
  const wanted = modelInForce();
  const model = listing.models?.find((m) => (wanted && wanted !== "embedded" && wanted !== "default"
    ? m.name === wanted : m.default));
  if (!model || model.assembled || !model.installed) {
    return;
  }
  const choice = await vscode.window.showInformationMessage(
    `codeward: the default model ${model.name} is not assembled yet; the first suggestion would wait for it ` +
    "(about a minute).", "Assemble now", "Later");
  if (choice === "Assemble now") {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification,
      title: `codeward: assembling ${model.name}` }, () => run(["models", "install", model.name]));
  }
}

async function start(context: vscode.ExtensionContext, bar: vscode.StatusBarItem): Promise<void> {
  const config = vscode.workspace.getConfiguration("codeward");
  const trust = trustNow();
  // machine scope and restricted: the user's own value only, whatever the workspace says
  const serverPath = config.inspect<string>("client.serverPath")?.globalValue ?? "";
  const python = await interpreter(trust);
  server = undefined;
  try {
    server = findServer(serverPath, python.path, nodeProbe, trust);
    tellRefused(python);
  } catch (error) {
    if (!(error instanceof NotFound)) {
      throw error;
    }
    tellRefused(python);
    status.fail(error.message);
    refresh(bar);
    const choice = await vscode.window.showErrorMessage(error.message, "Install instructions");
    if (choice) {
      await vscode.commands.executeCommand("markdown.showPreview",
        vscode.Uri.joinPath(context.extensionUri, "README.md"));
    }
    return;
  }
  void offerModelInstall();
  const line = commandLine(server, serveArgs(config.get<boolean>("client.useDaemon", true)));
  const serverOptions: ServerOptions = { command: line.command, args: line.args };
  const schema = readSchema(context.extension.packageJSON);
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: "python" }],
    initializationOptions: serverOptionsNow(schema),
    // a change of any codeward.* setting is notified; the server then pulls the section (answered below)
    synchronize: { configurationSection: "codeward" },
    middleware: {
      workspace: {  // the server pulls section "codeward": answer with what the user set, in the server's keys
        configuration: (params, token, next) =>
          params.items.some((i) => i.section === "codeward")
            ? params.items.map((i) => (i.section === "codeward" ? serverOptionsNow(schema) : null))
            : next(params, token),
      },
      provideInlineCompletionItems: async (document, position, ctx, token, next) => {
        status.begin();
        refresh(bar);
        const t0 = Date.now();
        try {
          return await next(document, position, ctx, token);
        } finally {
          status.end(Date.now() - t0);
          refresh(bar);
        }
      },
    },
  };
  client = new LanguageClient("codeward", "codeward", serverOptions, clientOptions);
  try {
    await client.start();
    const info = client.initializeResult?.serverInfo;
    status.started(String(config.get("engine.model", "")) || info?.name || "codeward");
    status.setEnabled(config.get<boolean>("completion.enabled", true));
  } catch (error) {
    status.fail(`the codeward server did not start: ${String(error)}`);
  }
  refresh(bar);
}

function refresh(bar: vscode.StatusBarItem): void {
  bar.text = status.text();
  bar.tooltip = status.tooltip();
  bar.show();
}

async function review(diagnostics: vscode.DiagnosticCollection): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    return;
  }
  const doc = editor.document;
  const out = JSON.parse(await run(["review", "--format", "json", doc.uri.fsPath]));
  const levels: Record<string, vscode.DiagnosticSeverity> = { high: vscode.DiagnosticSeverity.Error,
    medium: vscode.DiagnosticSeverity.Warning, low: vscode.DiagnosticSeverity.Information };
  const found = (out.files?.[0]?.findings ?? []) as { line: number; end_line: number; col: number; rule_id: string;
    severity: string; message: string }[];
  diagnostics.set(doc.uri, found.map((f) => {
    const d = new vscode.Diagnostic(new vscode.Range(f.line - 1, f.col, f.end_line - 1, 1e6), f.message,
      levels[f.severity] ?? vscode.DiagnosticSeverity.Information);
    d.source = "codeward review";
    d.code = f.rule_id;
    return d;
  }));
  vscode.window.showInformationMessage(`codeward review: ${found.length} finding(s) in ${path.basename(doc.fileName)}`);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const bar = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  bar.command = "codeward.showStats";
  const reviewed = vscode.languages.createDiagnosticCollection("codeward-review");
  context.subscriptions.push(bar, reviewed,
    vscode.commands.registerCommand("codeward.toggleCompletions", async () => {
      const config = vscode.workspace.getConfiguration("codeward");
      const enabled = !config.get<boolean>("completion.enabled", true);
      await config.update("completion.enabled", enabled, vscode.ConfigurationTarget.Global);
      status.setEnabled(enabled);
      refresh(bar);
    }),
    vscode.commands.registerCommand("codeward.showStats", async () => {
      if (!client) {
        return;
      }
      const stats = await client.sendRequest("codeward/stats", {});
      const doc = await vscode.workspace.openTextDocument({ language: "json",
        content: JSON.stringify(stats, null, 2) });
      await vscode.window.showTextDocument(doc, { preview: true });
    }),
    vscode.commands.registerCommand("codeward.reviewFile", () => review(reviewed).catch((e) =>
      vscode.window.showErrorMessage(`codeward review failed: ${String(e)}`))),
    vscode.commands.registerCommand("codeward.restartServer", async () => {
      await client?.stop();
      client = undefined;
      await start(context, bar);
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(async () => {
      if (!server) {  // not found while untrusted: the workspace's interpreter may now run it
        await start(context, bar);
      }
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("codeward.completion.enabled")) {
        status.setEnabled(vscode.workspace.getConfiguration("codeward").get<boolean>("completion.enabled", true));
        refresh(bar);
      }
    }),
  );
  await start(context, bar);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
