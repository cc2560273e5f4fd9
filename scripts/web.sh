#!/usr/bin/env bash
# Builds the browser page and serves it on 127.0.0.1 with the cached models beside it.
#   scripts/web.sh            build, then serve on port 8080 (COSPEC_WEB_PORT) and print the URL
#   scripts/web.sh build      build only, into target/web/site
# The wasm comes from `cargo build --target wasm32-unknown-unknown -p cospec-web`, bound by
# wasm-bindgen-cli at exactly the version in Cargo.lock (installed on demand), and shrunk by
# npm binaryen's wasm-opt (Debian's binaryen produces modules that fail in Chrome).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SITE="$ROOT/target/web/site"
MODELS="${COSPEC_MODELS_DIR:-$HOME/.cache/cospec/models}"
PORT="${COSPEC_WEB_PORT:-8080}"

build() {
    rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
    local want; want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
    if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
        echo "installing wasm-bindgen-cli $want (about 3 minutes, once)"
        cargo install wasm-bindgen-cli --version "$want"
    fi
    if [ ! -x web/node_modules/.bin/wasm-opt ]; then
        (cd web && npm ci --no-audit --no-fund)
    fi
    cargo build --release --target wasm32-unknown-unknown -p cospec-web
    rm -rf "$SITE" && mkdir -p "$SITE/pkg"
    wasm-bindgen --target web --no-typescript --out-dir "$SITE/pkg" target/wasm32-unknown-unknown/release/cospec_web.wasm
    web/node_modules/.bin/wasm-opt -O2 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
        "$SITE/pkg/cospec_web_bg.wasm" -o "$SITE/pkg/cospec_web_bg.wasm"
    cp web/www/* "$SITE/"
    echo "built $SITE ($(du -h "$SITE/pkg/cospec_web_bg.wasm" | cut -f1) of wasm)"
}

# models.json lists the cached GGUF files the page offers; the folder is linked as models/.
list_models() {
    mkdir -p "$MODELS"
    ln -sfn "$MODELS" "$SITE/models"
    python3 - "$MODELS" > "$SITE/models.json" <<'PY'
import json, os, sys
d = sys.argv[1]
files = sorted(f for f in os.listdir(d) if f.endswith(".gguf"))
defaults = {"qwen2.5-coder-0.5b-instruct.gguf": "draft", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": "target"}
print(json.dumps([{"name": f.removesuffix(".gguf"), "url": "models/" + f, "bytes": os.path.getsize(os.path.join(d, f)),
                   **({"default": defaults[f]} if f in defaults else {})} for f in files], indent=1))
PY
}

case "${1:-serve}" in
    build) build ;;
    serve)
        build
        list_models
        echo "cospec page: http://127.0.0.1:$PORT/  (models from $MODELS; Ctrl-C stops)"
        echo "  SmolLM2 alone: http://127.0.0.1:$PORT/?draft=models/SmolLM2-135M-Instruct.Q4_1.gguf&target=models/SmolLM2-135M-Instruct.Q4_1.gguf"
        cd "$SITE" && exec python3 -m http.server "$PORT" --bind 127.0.0.1
        ;;
    *) echo "usage: scripts/web.sh [build|serve]" >&2; exit 2 ;;
esac
