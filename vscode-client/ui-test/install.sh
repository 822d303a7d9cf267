#!/bin/sh
# The by-hand UI test's tools, into $UI_DIR (default /tmp/codeward-ui): Debian chromium (+ libkrb5-dev for
# code-server's kerberos module, ripgrep for @vscode/ripgrep), code-server 4.99.4 (the last release whose engines
# accept Node 20) and playwright-core. Nothing is fetched outside the Debian and npm registries: code-server's own
# postinstall would download ripgrep from GitHub, so its steps are done here by hand. About 2 minutes, ~300 MB.
set -eu
UI_DIR=${UI_DIR:-/tmp/codeward-ui}
need=""
for pkg in chromium libkrb5-dev ripgrep; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
  apt-get install -y $need
fi
CS="$UI_DIR/cs"
mkdir -p "$CS" && cd "$CS"
if [ ! -x node_modules/.bin/code-server ]; then
  [ -f package.json ] || npm init -y >/dev/null
  npm install code-server@4.99.4 playwright-core@1 --ignore-scripts --no-audit --no-fund
  cd node_modules/code-server/lib/vscode
  npm install --omit=dev --ignore-scripts --no-audit --no-fund
  mkdir -p node_modules/@vscode/ripgrep/bin  # its postinstall skips the download when bin/ exists
  ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  # native modules: kerberos builds with libkrb5-dev once its prebuilt download fails; node-pty's postinstall
  # runs `npx node-gyp`, which needs the yes
  npm_config_yes=true npm rebuild --foreground-scripts
  ln -sfn node_modules node_modules.asar
  (cd bin/remote-cli && ln -sf code-linux.sh code-server)
  (cd bin/helpers && ln -sf browser-linux.sh browser.sh)
  (cd extensions && npm install --omit=dev --foreground-scripts --no-audit --no-fund)
  cd "$CS" && npm rebuild argon2 --foreground-scripts
fi
"$CS/node_modules/.bin/code-server" --version
