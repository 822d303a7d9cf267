// Settings: VS Code's camelCase `codeward.<section>.<key>` (the user tier) and the object `codeward.advanced`
// (`"section.key": value`, the TOML names) <-> the server's nested snake_case sections. Only the values the user set
// (user, workspace or folder settings) are sent, so codeward.toml and the environment keep working for everything
// else: the editor's settings are one layer above them, not a reset. A key a project may not set (`"scope":
// "machine"` in package.json, on the setting or on its schema inside codeward.advanced) is read from the user's own
// settings only.

export type ServerOptions = Record<string, Record<string, unknown>>;

/** What `WorkspaceConfiguration.inspect(key)` says about one key (the parts we read). */
export interface Inspected {
  defaultValue?: unknown;
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

export type Inspect = (key: string) => Inspected | undefined;

/** The object setting that holds the advanced settings, without the `codeward.` prefix. */
export const ADVANCED = "advanced";

interface Manifest { contributes?: { configuration?: { properties?: Record<string, SchemaEntry> } } }
interface SchemaEntry { scope?: string; properties?: Record<string, SchemaEntry> }

/** What the extension needs to know of its settings, read from its package.json. */
export interface SettingsSchema {
  /** Contributed `codeward.*` keys without the prefix, `codeward.advanced` left out (`engine.model`, `client.useDaemon`). */
  contributed: string[];
  /** The keys `codeward.advanced` accepts: TOML names (`engine.n_ctx`). */
  advanced: string[];
  /** Keys read from the user's settings only: contributed ones as contributed (`engine.model`), advanced ones by
   * their TOML names (`engine.model_dir`). */
  machine: Set<string>;
}

/** `maxNewTokens` -> `max_new_tokens`. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** `max_new_tokens` -> `maxNewTokens`. */
export function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `engine.n_ctx` -> `engine.nCtx`: where a now-advanced setting used to live (before `codeward.advanced`). */
export function oldKey(tomlKey: string): string {
  const dot = tomlKey.indexOf(".");
  return tomlKey.slice(0, dot + 1) + camel(tomlKey.slice(dot + 1));
}

export function readSchema(packageJson: Manifest): SettingsSchema {
  const props = packageJson.contributes?.configuration?.properties ?? {};
  const machine = new Set<string>();
  const contributed: string[] = [];
  for (const [full, entry] of Object.entries(props)) {
    const key = full.startsWith("codeward.") ? full.slice("codeward.".length) : "";
    if (key && key !== ADVANCED) {
      contributed.push(key);
      if (entry.scope === "machine") {
        machine.add(key);
      }
    }
  }
  const inner = props[`codeward.${ADVANCED}`]?.properties ?? {};
  for (const [key, entry] of Object.entries(inner)) {
    if (entry.scope === "machine") {
      machine.add(key);
    }
  }
  return { contributed, advanced: Object.keys(inner), machine };
}

/** The value in force of one key the user set (folder > workspace > user); a machine key's user value only. Its
 * workspace values, when present, are named in `ignored` (as `name`). */
function valueOf(name: string, seen: Inspected | undefined, machine: boolean, ignored: string[]): unknown {
  if (!seen) {
    return undefined;
  }
  if (machine) {
    if (seen.workspaceFolderValue !== undefined || seen.workspaceValue !== undefined) {
      ignored.push(name);
    }
    return seen.globalValue;
  }
  return seen.workspaceFolderValue ?? seen.workspaceValue ?? seen.globalValue;
}

/** The keys (without the `codeward.` prefix) the user set explicitly, with the value in force (folder > workspace >
 * user; for a key in `machine`, the user's own value only). */
export function explicitSettings(keys: readonly string[], inspect: Inspect,
  machine: ReadonlySet<string> = new Set(), ignored: string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = valueOf(`codeward.${key}`, inspect(key), machine.has(key), ignored);
    if (value !== undefined) {
      out[key] = value;
    }
  }
  return out;
}

/** `{"engine.maxNewTokens": 48, "engine.n_ctx": 8192}` -> `{engine: {max_new_tokens: 48, n_ctx: 8192}}`; the
 * extension's own `client.*` keys stay here. */
export function toServerOptions(settings: Record<string, unknown>): ServerOptions {
  const out: ServerOptions = {};
  for (const [key, value] of Object.entries(settings)) {
    const dot = key.indexOf(".");
    if (dot <= 0) {
      continue;
    }
    const section = key.slice(0, dot);
    if (section === "client") {
      continue;
    }
    (out[section] ??= {})[snake(key.slice(dot + 1))] = value;
  }
  return out;
}

/** The keys of `codeward.*` settings the extension contributes (from its package.json), without the prefix. */
export function contributedKeys(packageJson: Manifest): string[] {
  return readSchema(packageJson).contributed;
}

/** One key of `codeward.advanced` that is not an advanced setting, with what to write instead. */
export interface Unknown { key: string; hint: string }

export interface Resolved {
  /** What the server gets: initializationOptions and the answer to workspace/configuration. */
  options: ServerOptions;
  /** Now-advanced settings still set the old way: `{old: "codeward.engine.nCtx", key: "engine.n_ctx"}`; sent. */
  migrated: { old: string; key: string }[];
  /** Keys of `codeward.advanced` that are not advanced settings; not sent. */
  unknown: Unknown[];
  /** Workspace values of keys read from the user's settings only; not sent. */
  ignored: string[];
}

function hintFor(key: string, value: unknown, schema: SettingsSchema): string {
  const advanced = new Set(schema.advanced);
  if (schema.contributed.includes(key) || schema.contributed.includes(oldKey(key))) {
    const name = schema.contributed.includes(key) ? key : oldKey(key);
    return `a setting of its own: set codeward.${name}`;
  }
  const dot = key.indexOf(".");
  if (dot > 0 && advanced.has(key.slice(0, dot + 1) + snake(key.slice(dot + 1)))) {
    return `write "${key.slice(0, dot + 1) + snake(key.slice(dot + 1))}" (the codeward.toml name)`;
  }
  if (dot < 0 && value !== null && typeof value === "object" && !Array.isArray(value)) {
    const first = Object.keys(value)[0] ?? "key";
    return `write one "section.key" entry per setting, e.g. "${key}.${first}"`;
  }
  return "not an advanced codeward setting (the description of codeward.advanced says where they are listed)";
}

/** Everything the user set, in the server's nested snake_case keys: the user-tier settings, now-advanced settings
 * still set the old way (`codeward.engine.nCtx`), then `codeward.advanced`, the later winning. */
export function resolveSettings(schema: SettingsSchema, inspect: Inspect): Resolved {
  const ignored: string[] = [];
  const flat = explicitSettings(schema.contributed, inspect, schema.machine, ignored);
  const migrated: Resolved["migrated"] = [];
  for (const key of schema.advanced) {
    const old = oldKey(key);
    const value = valueOf(`codeward.${old}`, inspect(old), schema.machine.has(key), ignored);
    if (value !== undefined) {
      flat[key] = value;
      migrated.push({ old: `codeward.${old}`, key });
    }
  }
  const unknown: Unknown[] = [];
  const seen = inspect(ADVANCED);
  const known = new Set(schema.advanced);
  const scopes: [unknown, boolean][] = [[seen?.globalValue, true], [seen?.workspaceValue, false],
    [seen?.workspaceFolderValue, false]];
  for (const [table, user] of scopes) {
    if (table === null || typeof table !== "object" || Array.isArray(table)) {
      continue;
    }
    for (const [key, value] of Object.entries(table)) {
      if (!known.has(key)) {
        if (!unknown.some((u) => u.key === key)) {
          unknown.push({ key, hint: hintFor(key, value, schema) });
        }
      } else if (!user && schema.machine.has(key)) {
        ignored.push(`codeward.${ADVANCED} "${key}"`);
      } else {
        flat[key] = value;
      }
    }
  }
  return { options: toServerOptions(flat), migrated, unknown, ignored: [...new Set(ignored)] };
}

/** The notices to show for `resolved`, each key named at most once per session (`told` remembers them). */
export function notices(resolved: Resolved, told: Set<string>): string[] {
  const fresh = <T>(items: T[], id: (item: T) => string): T[] => items.filter((item) => {
    const key = id(item);
    return told.has(key) ? false : (told.add(key), true);
  });
  const out: string[] = [];
  const moved = fresh(resolved.migrated, (m) => `migrated ${m.old}`);
  if (moved.length) {
    out.push(`codeward: ${moved.map((m) => m.old).join(", ")} ${moved.length > 1 ? "are" : "is"} now set in ` +
      `codeward.advanced as ${moved.map((m) => `"${m.key}"`).join(", ")}; still applied for now, but please move ` +
      `${moved.length > 1 ? "them" : "it"} there (settings.json: "codeward.advanced": ` +
      `{${moved.map((m) => `"${m.key}": …`).join(", ")}}).`);
  }
  const unknown = fresh(resolved.unknown, (u) => `unknown ${u.key}`);
  if (unknown.length) {
    out.push(`codeward: ignored in codeward.advanced: ${unknown.map((u) => `"${u.key}" (${u.hint})`).join("; ")}.`);
  }
  const ignored = fresh(resolved.ignored, (k) => `ignored ${k}`);
  if (ignored.length) {
    out.push(`codeward: ${ignored.join(", ")} ${ignored.length > 1 ? "are" : "is"} read from your user settings ` +
      "only (it chooses where data goes or what runs, so a workspace may not set it); the workspace value is ignored.");
  }
  return out;
}
