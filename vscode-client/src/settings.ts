// Settings: VS Code's camelCase `codeward.<section>.<key>` <-> the server's nested snake_case sections.
// Only the values the user set (user, workspace or folder settings) are sent, so codeward.toml and the
// environment keep working for everything else: the editor's settings are one layer above them, not a reset.

export type ServerOptions = Record<string, Record<string, unknown>>;

/** What `WorkspaceConfiguration.inspect(key)` says about one key (the parts we read). */
export interface Inspected {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** `maxNewTokens` -> `max_new_tokens`. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** The keys (without the `codeward.` prefix) the user set explicitly, with the value in force (folder > workspace >
 * user). */
export function explicitSettings(keys: readonly string[],
  inspect: (key: string) => Inspected | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const seen = inspect(key);
    if (!seen) {
      continue;
    }
    for (const value of [seen.workspaceFolderValue, seen.workspaceValue, seen.globalValue]) {
      if (value !== undefined) {
        out[key] = value;
        break;
      }
    }
  }
  return out;
}

/** `{"engine.maxNewTokens": 48}` -> `{engine: {max_new_tokens: 48}}`; the extension's own `client.*` keys stay
 * here. */
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
export function contributedKeys(packageJson: { contributes?: { configuration?: { properties?: object } } }): string[] {
  const props = packageJson.contributes?.configuration?.properties ?? {};
  return Object.keys(props).filter((k) => k.startsWith("codeward.")).map((k) => k.slice("codeward.".length));
}
