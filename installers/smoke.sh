#!/usr/bin/env bash
# Smoke test of the built Linux package, as an analyst's machine would see it: the tar.gz is
# unpacked into a fresh folder, and every program runs from an empty folder with a clean
# environment (env -i, HOME in a temp folder, PATH=/usr/bin:/bin): no checkout, no virtual
# environment, no Python of ours, no network where `unshare -n` is allowed.
#
#   bash installers/smoke.sh [--keep] [--screenshot PNG] [--alive S] [TARBALL]
#
#   TARBALL        default: the newest installers/.build/cffd-studio-*-linux-x86_64-*.tar.gz
#   --screenshot   where the screenshot of the window goes (default /tmp/installer-screenshot.png)
#   --alive S      offscreen check: the window counts as started if it still runs after S s
#                  without an error (default 30; app/main.py has no quit-after-start switch)
#   --keep         keep the temp folder (it is printed)
#
# Checks: install.sh adds and removes the menu entry and commands; (a) `cffd` makes the demo
# video and analyses it into a PDF report (a PDF, with its JSON twin); (b) `cffd-studio` starts
# offscreen; (c) under Xvfb, the time from starting `cffd-studio` to its window being visible,
# first start (empty user folders: the default model is installed) and second start, a screenshot
# (--screenshot), and the demo video opened in the window with a screenshot 45 s later (same name,
# -analysis.png). (c) needs xvfb-run, xwininfo and ImageMagick's import, else is skipped.
# Prints `smoke: PASS` last.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shot=/tmp/installer-screenshot.png
alive=30
keep=0
tarball=
while [ $# -gt 0 ]; do
  case $1 in
    --keep) keep=1 ;;
    --screenshot) shot=$2; shift ;;
    --alive) alive=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "smoke.sh: unknown option $1" >&2; exit 2 ;;
    *) tarball=$1 ;;
  esac
  shift
done
if [ -z "$tarball" ]; then
  tarball=$(ls -t "$here"/.build/cffd-studio-*-linux-x86_64-*.tar.gz 2>/dev/null | head -1 || true)
fi
[ -f "$tarball" ] || { echo "smoke.sh: no package found (run installers/build.sh first)" >&2; exit 2; }
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")

tmp=$(mktemp -d /tmp/cffd-smoke.XXXXXX)
cleanup() { [ "$keep" = 1 ] && echo "smoke: kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/opt" "$tmp/home" "$tmp/home-gui" "$tmp/run"
say() { echo "smoke: $*"; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

t=$(now)
tar -C "$tmp/opt" -xzf "$tarball"
app=$(echo "$tmp"/opt/cffd-studio-*)
[ -x "$app/cffd" ] && [ -x "$app/cffd-studio" ] || fail "the package has no cffd and cffd-studio executables"
say "unpacked $(basename "$tarball") ($(du -h "$tarball" | cut -f1)) in $(elapsed "$t") s: $(du -sh "$app" | cut -f1) on disk"

# A clean environment: nothing from this shell, the checkout or a virtual environment.
clean=(env -i "HOME=$tmp/home" "PATH=/usr/bin:/bin" "LANG=C.UTF-8" "TMPDIR=$tmp")
gui_clean=(env -i "HOME=$tmp/home-gui" "PATH=/usr/bin:/bin" "LANG=C.UTF-8" "TMPDIR=$tmp")  # untouched user folders
offline=()
if unshare -n true 2>/dev/null; then
  offline=(unshare -n)
  say "the command-line checks run without a network (unshare -n)"
fi
cd "$tmp/run"

# The per-user install (menu entry, icon, commands in ~/.local/bin) and its removal.
"${clean[@]}" "$app/install.sh" > install.log || { cat install.log; fail "install.sh"; }
entry=$tmp/home/.local/share/applications/cffd-studio.desktop
[ -f "$entry" ] && [ -f "$tmp/home/.local/share/icons/hicolor/256x256/apps/cffd-studio.png" ] \
  || fail "install.sh wrote no menu entry or icon"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$entry" || fail "the installed menu entry is not valid"
fi
"${clean[@]}" "$tmp/home/.local/bin/cffd" --version > /dev/null || fail "~/.local/bin/cffd does not run"
"${clean[@]}" "$app/install.sh" --remove > /dev/null
[ ! -e "$entry" ] && [ ! -e "$tmp/home/.local/bin/cffd" ] || fail "install.sh --remove left files"
say "install.sh added the menu entry, icon and commands; --remove took them away"

# (a) the command line: demo video -> analysis -> PDF report, offline.
"${clean[@]}" "$app/cffd" --version
"${clean[@]}" "${offline[@]}" "$app/cffd" assets status > assets.txt || { cat assets.txt; fail "model files missing"; }
grep -q "$app/_internal/models/" assets.txt || fail "the model files were not found inside the package"
t=$(now)
"${clean[@]}" "${offline[@]}" "$app/cffd" synth demo --out demo > demo.log 2>&1 || { cat demo.log; fail "cffd synth demo"; }
[ -s demo/demo_manipulated.mp4 ] || fail "no demo video was made"
say "cffd synth demo made $(ls demo | tr '\n' ' ')in $(elapsed "$t") s"
t=$(now)
"${clean[@]}" "${offline[@]}" "$app/cffd" analyze demo/demo_manipulated.mp4 --frames 24 --report report.pdf \
  --case-id SMOKE-1 --quiet > analyze.log 2>&1 || { cat analyze.log; fail "cffd analyze"; }
[ "$(head -c 5 report.pdf)" = "%PDF-" ] || fail "report.pdf is not a PDF"
tail -c 1024 report.pdf | grep -q '%%EOF' || fail "report.pdf is truncated"
[ -s report.json ] || fail "the report's JSON twin is missing"
if command -v pdfinfo >/dev/null; then
  pages=$(pdfinfo report.pdf | awk '/^Pages:/ { print $2 }')
  say "cffd analyze wrote report.pdf ($pages pages, $(du -h report.pdf | cut -f1)) and report.json in $(elapsed "$t") s"
else
  say "cffd analyze wrote report.pdf and report.json in $(elapsed "$t") s"
fi
grep -m1 -iE 'verdict|manipulat' analyze.log || true

# (b) the window, offscreen: CFFD_STUDIO_QUIT_AFTER_MS makes it quit by itself, with code 0, 5 s
# after its event loop started; still running after $alive s is a failure.
"${clean[@]}" QT_QPA_PLATFORM=offscreen CFFD_STUDIO_QUIT_AFTER_MS=5000 "$app/cffd-studio" > studio-offscreen.log 2>&1 &
pid=$!
for _ in $(seq "$alive"); do
  sleep 1
  kill -0 "$pid" 2>/dev/null || break
done
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  cat studio-offscreen.log
  fail "cffd-studio did not quit by itself within $alive s (CFFD_STUDIO_QUIT_AFTER_MS=5000)"
fi
wait "$pid" && code=0 || code=$?
[ "$code" = 0 ] || { cat studio-offscreen.log; fail "cffd-studio exited offscreen with code $code"; }
grep -qiE 'traceback|error|abort' studio-offscreen.log && { cat studio-offscreen.log; fail "cffd-studio printed an error"; }
say "cffd-studio started offscreen and quit by itself (CFFD_STUDIO_QUIT_AFTER_MS) with code 0"

# (c) the window under Xvfb: time to a visible window (first start, with empty user folders, and
# second start), a screenshot of it, and the demo video analysed in the window.
cat > "$tmp/xvfb-check.sh" <<'EOF'
#!/bin/bash
# Run inside xvfb-run: start cffd-studio [FILES], wait for its window to be viewable and print
# the time that took; after WAIT more seconds take a screenshot (if SHOT is set) and quit it.
set -u
app=$1 shot=$2 log=$3 wait=$4
shift 4
start=$(date +%s.%N)
"$app/cffd-studio" "$@" > "$log" 2>&1 &
pid=$!
for _ in $(seq 1200); do
  # The main window carries the class ("cffd-studio" "CFFD Studio"); Qt's helper windows do not.
  id=$(xwininfo -root -tree 2>/dev/null | awk '/"CFFD Studio": \("cffd-studio"/ { print $1; exit }')
  if [ -n "$id" ] && xwininfo -id "$id" 2>/dev/null | grep -q 'IsViewable'; then
    visible=$(date +%s.%N)
    awk -v a="$start" -v b="$visible" 'BEGIN { printf "visible %.2f\n", b - a }'
    sleep "$wait"
    [ -n "$shot" ] && import -window "$id" "$shot"
    kill -0 "$pid" 2>/dev/null || { echo "exited"; exit 1; }
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { echo "exited"; exit 1; }
  sleep 0.1
done
echo "timeout"
kill -TERM "$pid"
exit 1
EOF
chmod +x "$tmp/xvfb-check.sh"
xvfb() {  # LABEL SHOT WAIT [FILES]: one start of the window under Xvfb; says its start-up time
  local label=$1 log line
  log=$tmp/run/studio-${label// /-}.log
  for attempt in 1 2 3; do
    if line=$("${gui_clean[@]}" xvfb-run -a -s "-screen 0 1600x1000x24" "$tmp/xvfb-check.sh" "$app" "$2" "$log" "${@:3}"); then
      break
    fi
    # xvfb-run -a can hand out a display another Xvfb on a busy machine takes first: try again.
    if [ "$attempt" = 3 ] || ! grep -q 'could not connect to display' "$log"; then
      cat "$log"
      fail "cffd-studio ($label): $line"
    fi
    say "Xvfb's display was not there ($label); starting again"
  done
  if grep -qiE 'traceback|error' "$log"; then
    cat "$log"
    fail "cffd-studio ($label) printed an error"
  fi
  say "cffd-studio window visible ${line#visible } s after start ($label)"
}
if command -v xvfb-run >/dev/null && command -v xwininfo >/dev/null && command -v import >/dev/null; then
  xvfb "first start" "" 0
  xvfb "second start" "$shot" 3
  [ -s "$shot" ] || fail "no screenshot"
  say "screenshot of the window: $shot"
  # The demo video opened in the window: the second screenshot shows its verdict, timeline and
  # Grad-CAM. Look at it: this script only sees that the window ran 45 s without an error.
  xvfb "with the demo video" "${shot%.png}-analysis.png" 45 "$tmp/run/demo/demo_manipulated.mp4"
  [ -s "${shot%.png}-analysis.png" ] || fail "no screenshot of the analysis"
  say "screenshot 45 s after opening the demo video in the window: ${shot%.png}-analysis.png"
else
  say "xvfb-run, xwininfo or import missing: start-up times and screenshots skipped"
fi
say "PASS"
