# Sourced by the .ci scripts: puts Node.js 24 (from the npm registry when the machine's Node is
# older) and the project's Go-built tools on PATH. Node 20's npm silently resolves older releases
# of dd-trace and connect-node, so every npm call must run under Node 24.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export AAP_ROOT="$root"
node_version=24.21.0
node_dir="$root/.tools/node"
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 24 ]; then
  if [ ! -x "$node_dir/node_modules/.bin/node" ]; then
    echo "setup: installing Node.js $node_version from the npm registry into .tools/node" >&2
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error "node@$node_version" >&2
  fi
  export PATH="$node_dir/node_modules/.bin:$PATH"
fi
export PATH="$root/.tools/bin:$root/node_modules/.bin:$PATH"
# npm and tsc turn on Node's compile cache, by default in the temporary directory: keep it with the
# project's other caches, so a test run leaves the temporary directory as it found it.
export NODE_COMPILE_CACHE="$root/node_modules/.cache/node-compile-cache"
