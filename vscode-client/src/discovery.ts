// Finding the server: a configured path, else `codeward` on PATH, else the workspace's Python interpreter with
// `-m codeward`; if none works, one error that says what was tried and what to do.

import { spawnSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import * as path from "node:path";

export interface Probe {
  /** Whether `path` is an executable file. */
  isExecutable(path: string): boolean;
  /** The full path of `name` on PATH, if any. */
  which(name: string): string | undefined;
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

/** The arguments that start the language server: the shared per-user server by default, else stdio. */
export function serveArgs(useDaemon: boolean): string[] {
  return useDaemon ? ["serve", "--daemon"] : ["serve"];
}

/** The command line of a codeward subcommand with the server found. */
export function commandLine(server: ServerCommand, args: string[]): { command: string; args: string[] } {
  return { command: server.command, args: [...server.prefix, ...args] };
}

export function findServer(configured: string, interpreter: string | undefined, probe: Probe): ServerCommand {
  const path = configured.trim();
  if (path) {
    if (probe.isExecutable(path)) {
      return { command: path, prefix: [], source: "setting" };
    }
    throw new NotFound(`codeward.client.serverPath is "${path}", which is not an executable file: point it at the ` +
      "codeward executable (for a checkout: .venv/bin/codeward), or clear it to use codeward on PATH.");
  }
  const onPath = probe.which("codeward");
  if (onPath) {
    return { command: onPath, prefix: [], source: "PATH" };
  }
  if (interpreter && probe.works(interpreter, ["-m", "codeward", "--version"])) {
    return { command: interpreter, prefix: ["-m", "codeward"], source: "interpreter" };
  }
  const tried = interpreter ? `, and the selected Python interpreter (${interpreter}) has no codeward module` : "";
  throw new NotFound("codeward was not found: codeward.client.serverPath is empty, `codeward` is not on PATH" +
    `${tried}. Install codeward (make install in its checkout, or pip install the wheel) and set ` +
    "codeward.client.serverPath to its executable.");
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
  which(name: string): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
      const candidate = path.join(dir, name);
      if (dir && nodeProbe.isExecutable(candidate)) {
        return candidate;
      }
    }
    return undefined;
  },
  works(command: string, args: string[]): boolean {
    return spawnSync(command, args, { timeout: 20000 }).status === 0;
  },
};
