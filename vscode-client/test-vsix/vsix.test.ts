// The packaged extension (run after `npm run package`): the manifest names the extension, its entry point and
// contributions, and the .vsix holds the bundle and no sources or dependencies.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

const VSIX = path.join(__dirname, "..", "..", "codeward.vsix");

test("the .vsix manifest and file list", () => {
  const list = execFileSync("unzip", ["-Z1", VSIX], { encoding: "utf8" }).split("\n").filter(Boolean);
  assert.ok(list.includes("extension.vsixmanifest") && list.includes("extension/package.json"), list.join(" "));
  assert.ok(list.includes("extension/dist/extension.js") && list.includes("extension/readme.md"), list.join(" "));
  assert.ok(!list.some((f) => f.startsWith("extension/src/") || f.startsWith("extension/node_modules/") ||
    f.endsWith(".ts")), list.join(" "));
  const manifest = execFileSync("unzip", ["-p", VSIX, "extension.vsixmanifest"], { encoding: "utf8" });
  assert.match(manifest, /<Identity [^>]*Id="codeward"[^>]*Publisher="codeward"/);
  assert.match(manifest, /Microsoft\.VisualStudio\.Code/);
  const packed = JSON.parse(execFileSync("unzip", ["-p", VSIX, "extension/package.json"], { encoding: "utf8" }));
  const source = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  assert.equal(packed.main, "./dist/extension.js");
  assert.deepEqual(packed.contributes, source.contributes);
  assert.deepEqual(packed.capabilities, source.capabilities);  // Restricted Mode: limited, restricted keys
  assert.equal(packed.capabilities.untrustedWorkspaces.supported, "limited");
  const settings = Object.keys(packed.contributes.configuration.properties);
  assert.ok(settings.length <= 17 && settings.includes("codeward.advanced"), settings.join(" "));
});
