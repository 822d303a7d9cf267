#!/bin/sh
# The by-hand UI test: real VS Code (code-server) with codeward.vsix in headless Chromium; types nothing but asks
# for an inline suggestion at the end of a Python line and waits for the ghost text; screenshot $UI_DIR/ghost.png.
# Needs install.sh first, the .vsix (npm run package) and the venv's codeward. Exit 0 when the ghost text showed.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
UI_DIR=${UI_DIR:-/tmp/codeward-ui}
PORT=${UI_PORT:-8765}
RUN="$UI_DIR/run"
rm -rf "$RUN" && mkdir -p "$RUN/work" "$RUN/data/User" "$RUN/ext" "$RUN/state" "$RUN/xdg"
printf 'def greet(name):\n    print("hello", ' > "$RUN/work/greet.py"
cat > "$RUN/data/User/settings.json" <<JSON
{
  "codeward.client.serverPath": "$ROOT/.venv/bin/codeward",
  "codeward.client.useDaemon": false,
  "codeward.advanced": { "completion.debounce_ms": 0, "engine.max_new_tokens": 8 },
  "editor.inlineSuggest.enabled": true,
  "workbench.startupEditor": "none",
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false
}
JSON
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" > "$RUN/config.yaml"
CS="$UI_DIR/cs/node_modules/.bin/code-server"
export XDG_CONFIG_HOME="$RUN/xdg/config" XDG_DATA_HOME="$RUN/xdg/data" XDG_CACHE_HOME="$RUN/xdg/cache"
"$CS" --user-data-dir "$RUN/data" --extensions-dir "$RUN/ext" --install-extension "$ROOT/vscode-client/codeward.vsix"
CODEWARD_ENGINE_MODEL=${CODEWARD_ENGINE_MODEL:-smollm2-135m} XDG_STATE_HOME="$RUN/state" \
  "$CS" --config "$RUN/config.yaml" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry \
  --disable-update-check --disable-workspace-trust --user-data-dir "$RUN/data" --extensions-dir "$RUN/ext" \
  "$RUN/work" > "$RUN/code-server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; pkill -f "$RUN/ext" 2>/dev/null || true' EXIT
UI_DIR="$UI_DIR" UI_PORT="$PORT" UI_WORK="$RUN/work" NODE_PATH="$UI_DIR/cs/node_modules" node "$HERE/ghost.js"
