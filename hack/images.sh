#!/usr/bin/env bash
# Builds the real node's container images as docker-archive tarballs in
# $(images_dir), so nothing is ever pulled (hack/node.sh imports them):
#   localhost/pause:local          the sandbox image (hack/node/pause.c, static)
#   localhost/busybox:local        Debian's busybox-static with its applet links
#   localhost/busybox-sigint:local the same, with StopSignal SIGINT in its config
#                                  (like an image whose Dockerfile says STOPSIGNAL)
#   localhost/no-command:local     the same files with neither Entrypoint nor Cmd:
#                                  a pod that gives no command gets a real
#                                  CreateContainerError ("no command specified")
# Reproducible (fixed mtimes and owners); cheap when already built.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

out=$(images_dir)
[[ -e $out/done ]] && exit 0
command -v busybox >/dev/null || [[ -x /bin/busybox ]] || die "busybox-static is missing; run hack/install-deps.sh"
log "building the real node's images (pause, busybox)"
mkdir -p "$WEIR_CACHE_DIR"
work=$(mktemp -d "$WEIR_CACHE_DIR/.build-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
arch=$(dpkg --print-architecture)

# Writes a one-layer image tarball: name tag layer.tar config-json-fragment.
image() {  # file repotag layer config
  local file=$1 tag=$2 layer=$3 config=$4 dir diff cfg
  dir=$(mktemp -d "$work/img.XXXXXX")
  cp "$layer" "$dir/layer.tar"
  diff=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
  printf '{"architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$arch" "$config" "$diff" >"$dir/config.json"
  cfg=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
  mv "$dir/config.json" "$dir/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfg" "$tag" >"$dir/manifest.json"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/bin/$file" -C "$dir" \
    manifest.json "$cfg.json" layer.tar
}

layer() {  # rootfs out.tar
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$2" -C "$1" .
}

mkdir -p "$work/bin" "$work/pause/bin" "$work/busybox/bin" "$work/busybox/tmp" "$work/busybox/etc"
gcc -static -O2 -s -o "$work/pause/pause" "$WEIR_ROOT/hack/node/pause.c"
layer "$work/pause" "$work/pause.tar"

cp /bin/busybox "$work/busybox/bin/busybox"
while read -r applet; do
  [[ $applet == bin/busybox ]] && continue
  mkdir -p "$work/busybox/$(dirname "$applet")"
  ln -sf /bin/busybox "$work/busybox/$applet"
done < <(/bin/busybox --list-full)
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/busybox/etc/passwd"
echo 'root:x:0:' >"$work/busybox/etc/group"
chmod 1777 "$work/busybox/tmp"
layer "$work/busybox" "$work/busybox.tar"

path='"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
image pause.tar localhost/pause:local "$work/pause.tar" '{"Entrypoint":["/pause"]}'
image busybox.tar localhost/busybox:local "$work/busybox.tar" "{$path,\"Cmd\":[\"sh\"]}"
image busybox-sigint.tar localhost/busybox-sigint:local "$work/busybox.tar" \
  "{$path,\"Cmd\":[\"sh\"],\"StopSignal\":\"SIGINT\"}"
image no-command.tar localhost/no-command:local "$work/busybox.tar" "{$path}"
touch "$work/bin/done"
rm -rf "$out"
mv "$work/bin" "$out"
log "images ready in $out"
