#!/usr/bin/env bash
# Makes the toolchain rust-toolchain.toml pins available to rustup. Online, rustup installs it by
# itself on the first cargo call; this covers a machine that cannot fetch toolchains but has the
# same release installed under another name (its `stable`): that release is then known under the
# pinned name too. Any other release is not taken for it: then rustup is asked to install it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pinned="$(sed -n 's/^channel = "\(.*\)"$/\1/p' "$root/rust-toolchain.toml")"
cd /  # outside the workspace, so the toolchain file does not choose for the commands below
host="$(rustup run stable rustc -vV 2>/dev/null | sed -n 's/^host: //p' || true)"
toolchains="${RUSTUP_HOME:-$HOME/.rustup}/toolchains"
if [ -n "$host" ] && [ ! -e "$toolchains/$pinned-$host" ] \
  && rustup run stable rustc --version | grep -q "^rustc $pinned "; then
  ln -s "$(rustup run stable rustc --print sysroot)" "$toolchains/$pinned-$host"
  echo "toolchain: $pinned is this machine's stable; known under both names now"
fi
if ! rustup run "$pinned" rustc --version >/dev/null 2>&1; then
  rustup toolchain install "$pinned" --profile minimal --component rustfmt,clippy --target aarch64-unknown-linux-gnu
fi
rustup run "$pinned" rustc --version
