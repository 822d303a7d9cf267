// Finding the server: a configured path, else `codeward` on PATH, else the workspace's Python interpreter with
// `-m codeward`; if none works, one error that says what was tried and what to do. In a workspace the user has not
// trusted, nothing the workspace chose runs: no interpreter it selected or set, no program inside its folders.

import { spawnSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import * as path from "node:path";
import type { Inspected } from "./settings";

export interface Probe {
  /** Whether `path` is an executable file. */
  isExecutable(path: string): boolean;
  /** The full path of `name` in the first absolute PATH folder that has it (and that `accept` accepts), if any. */
  which(name: string, accept?: (path: string) => boolean): string | undefined;
  /** Whether `command args...` runs and exits 0 (used to check that an interpreter has codeward). */
  works(command: string, args: string[]): boolean;
}

export interface ServerCommand {
  command: string;
  /** What goes before a codeward subcommand: `[]` for the executable, `["-m", "codeward"]` for an interpreter. */
  prefix: string[];
  source: "setting" | "PATH" | "interpreter";
}

export class NotFound extends Error {}

/** Whether the user trusts the workspace (`vscode.workspace.isTrusted`), and its folders' paths. */
export interface Trust {
  trusted: boolean;
  folders: readonly string[];
}

/** Why an untrusted workspace may not start `program`, or undefined: an unresolved `${...}` variable, a relative
 * path, or a path inside one of the workspace's folders. A bare command name (`python3`) is looked up on PATH. */
export function untrustedProblem(program: string, folders: readonly string[]): string | undefined {
  if (program.includes("${")) {
    return "it holds an unresolved variable";
  }
  if (!program.includes("/") && !program.includes("\\")) {
    return undefined;
  }
  if (!path.isAbsolute(program)) {
    return "it is a relative path";
  }
  for (const folder of folders) {
    const rel = path.relative(path.resolve(folder), path.resolve(program));
    if (rel === "" || (rel !== ".." && !rel.startsWith(".." + path.sep) && !path.isAbsolute(rel))) {
      return "it is inside the workspace";
    }
  }
  return undefined;
}

/** The interpreter to try after PATH, and what an untrusted workspace was refused (as `python.defaultInterpreterPath
 * ...` or the Python extension's selection). */
export interface InterpreterChoice {
  path?: string;
  ignored: string[];
}

/** Which interpreter may run the server. Trusted workspace: the Python extension's `selected` interpreter, else
 * `python.defaultInterpreterPath` in force (folder > workspace > user > default). Untrusted: only the user's own (or
 * the default) `python.defaultInterpreterPath`, never a workspace value or the Python extension's selection (which
 * the workspace can steer to its own `.venv`), and only if `untrustedProblem` finds nothing wrong with it. */
export function pickInterpreter(trust: Trust, selected: string | undefined,
  setting: Inspected | undefined): InterpreterChoice {
  const text = (v: unknown): string | undefined => (typeof v === "string" && v.trim() ? v.trim() : undefined);
  if (trust.trusted) {
    return { path: text(selected) ?? text(setting?.workspaceFolderValue) ?? text(setting?.workspaceValue) ??
      text(setting?.globalValue) ?? text(setting?.defaultValue), ignored: [] };
  }
  const ignored: string[] = [];
  if (text(selected)) {
    ignored.push(`the Python extension's selected interpreter (${text(selected)})`);
  }
  for (const value of [setting?.workspaceFolderValue, setting?.workspaceValue]) {
    if (text(value)) {
      ignored.push(`the workspace's python.defaultInterpreterPath (${text(value)})`);
    }
  }
  const user = text(setting?.globalValue) ?? text(setting?.defaultValue);
  const problem = user === undefined ? undefined : untrustedProblem(user, trust.folders);
  if (user !== undefined && problem) {
    ignored.push(`python.defaultInterpreterPath ${user} (${problem})`);
    return { ignored };
  }
  return { path: user, ignored };
}

/** The arguments that start the language server: the shared per-user server by default, else stdio. */
export function serveArgs(useDaemon: boolean): string[] {
  return useDaemon ? ["serve", "--daemon"] : ["serve"];
}

/** The command line of a codeward subcommand with the server found. */
export function commandLine(server: ServerCommand, args: string[]): { command: string; args: string[] } {
  return { command: server.command, args: [...server.prefix, ...args] };
}

/** The server: `configured` (the user's own codeward.client.serverPath), else `codeward` on PATH, else
 * `interpreter -m codeward`. Without `trust`, or when it is trusted, any of them; in an untrusted workspace no PATH
 * entry or interpreter inside its folders (`untrustedProblem`). */
export function findServer(configured: string, interpreter: string | undefined, probe: Probe,
  trust?: Trust): ServerCommand {
  const path = configured.trim();
  if (path) {
    if (probe.isExecutable(path)) {
      return { command: path, prefix: [], source: "setting" };
    }
    throw new NotFound(`codeward.client.serverPath is "${path}", which is not an executable file: point it at the ` +
      "codeward executable (for a checkout: .venv/bin/codeward), or clear it to use codeward on PATH.");
  }
  const untrusted = trust !== undefined && !trust.trusted;
  const allowed = (program: string): boolean => !untrusted || untrustedProblem(program, trust.folders) === undefined;
  const onPath = probe.which("codeward", untrusted ? allowed : undefined);
  if (onPath) {
    return { command: onPath, prefix: [], source: "PATH" };
  }
  const python = interpreter && allowed(interpreter) ? interpreter : undefined;
  if (python && probe.works(python, ["-m", "codeward", "--version"])) {
    return { command: python, prefix: ["-m", "codeward"], source: "interpreter" };
  }
  const tried = python ? `, and the selected Python interpreter (${python}) has no codeward module` : "";
  const restricted = untrusted ? " This workspace is not trusted, so neither an interpreter it chose nor a program " +
    "inside it is started: set codeward.client.serverPath in your user settings, or trust the workspace." : "";
  throw new NotFound("codeward was not found: codeward.client.serverPath is empty, `codeward` is not on PATH" +
    `${tried}. Install codeward (make install in its checkout, or pip install the wheel) and set ` +
    `codeward.client.serverPath to its executable.${restricted}`);
}

/** The probe on the real file system and PATH. */
export const nodeProbe: Probe = {
  isExecutable(p: string): boolean {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  },
  which(name: string, accept?: (path: string) => boolean): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
      const candidate = path.join(dir, name);  // a relative entry (`.`) would depend on the current folder: skipped
      if (path.isAbsolute(dir) && nodeProbe.isExecutable(candidate) && (!accept || accept(candidate))) {
        return candidate;
      }
    }
    return undefined;
  },
  works(command: string, args: string[]): boolean {
    return spawnSync(command, args, { timeout: 20000 }).status === 0;
  },
};
