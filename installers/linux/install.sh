#!/usr/bin/env bash
# Add CFFD Studio, unpacked from its tar.gz, to this user's menu and PATH (nothing needs root):
# ~/.local/bin/cffd-studio and ~/.local/bin/cffd, a menu entry and its icon.
#   ./install.sh            install (run it from the unpacked folder, which must stay where it is)
#   ./install.sh --remove   take the menu entry, icon and commands away again
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
bin=$HOME/.local/bin
entry=$data/applications/cffd-studio.desktop
icon_dir=$data/icons/hicolor
if [ "${1:-}" = --remove ]; then
  rm -f "$entry" "$bin/cffd-studio" "$bin/cffd" "$icon_dir/256x256/apps/cffd-studio.png" \
    "$icon_dir/scalable/apps/cffd-studio.svg"
  echo "removed; the folder $here itself is left as it is"
  exit 0
fi
mkdir -p "$bin" "$data/applications" "$icon_dir/256x256/apps" "$icon_dir/scalable/apps"
ln -sfn "$here/cffd-studio" "$bin/cffd-studio"
ln -sfn "$here/cffd" "$bin/cffd"
cp "$here/cffd-studio.png" "$icon_dir/256x256/apps/cffd-studio.png"
cp "$here/cffd-studio.svg" "$icon_dir/scalable/apps/cffd-studio.svg"
sed -e "s|^Exec=.*|Exec=\"$here/cffd-studio\" %F|" -e "s|^TryExec=.*|TryExec=$here/cffd-studio|" \
  "$here/cffd-studio.desktop" > "$entry"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -qtf "$icon_dir" || true
echo "installed: CFFD Studio is in the applications menu; cffd-studio and cffd are in $bin"
case ":$PATH:" in *":$bin:"*) ;; *) echo "(add $bin to PATH to type them in a terminal)" ;; esac
