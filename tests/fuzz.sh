#!/usr/bin/env bash
# Fuzzes the client-port codec (rzk-proto) with cargo-fuzz / libFuzzer.
#
#   tests/fuzz.sh [seconds]     # default 60
#
# Target `frame_decoder` (fuzz/fuzz_targets/frame_decoder.rs): bytes -> FrameDecoder -> RequestHeader +
# decode_request, and ConnectRequest::decode. The corpus fuzz/corpus/frame_decoder/ (gitignored) is seeded
# from the captured ZooKeeper frames in server/proto/tests/vectors/*.hex, each as the bare body and as a
# length-prefixed frame; whatever libFuzzer adds there is kept between runs. Any single allocation over
# 64 MB counts as a crash (inputs are at most 4 KB). Crashes land in
# fuzz/artifacts/frame_decoder/ and make this script exit non-zero.
#
# Needs the nightly toolchain (rustup) and a C++ compiler; installs cargo-fuzz into ~/.cargo/bin if
# missing. Cost: the first run compiles cargo-fuzz (a few minutes) and the instrumented target (~75 s);
# then the fuzzing itself takes the given seconds on one core. Not part of tests/run-all.sh / CI.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"

export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 2
fi

corpus=fuzz/corpus/frame_decoder
mkdir -p "$corpus"
python3 - "$corpus" server/proto/tests/vectors/*.hex <<'PY'
import pathlib, struct, sys
out = pathlib.Path(sys.argv[1])
for f in sys.argv[2:]:
    body = bytes.fromhex("".join(pathlib.Path(f).read_text().split()))
    name = pathlib.Path(f).stem
    (out / f"vec_{name}").write_bytes(body)
    (out / f"vec_{name}.framed").write_bytes(struct.pack(">I", len(body)) + body)
PY

cd fuzz
exec cargo +nightly fuzz run frame_decoder "corpus/frame_decoder" -- -max_total_time="$secs" -malloc_limit_mb=64 -print_final_stats=1
