#!/usr/bin/env bash
# Screenshots of the bringup dashboard, taken in a real terminal.
#
# Run from anywhere:   scripts/screenshots.sh
#
# What it does: runs `bringup` inside a real xterm (DejaVu Sans Mono 11,
# black background, UTF-8, 120x34 cells, TERM=xterm-256color) on a private
# virtual X display (Xvfb), types keys into it with xdotool, and grabs the
# xterm window with ImageMagick's `import`. Nothing shows on your own screen.
#
# What it writes (and overwrites, so it can be rerun at will):
#   screenshots/grid-and-logs.png   `bringup demo` once up: service grid, logs of a chatty service
#   screenshots/timeline.png        the same demo, timeline view (t)
#   screenshots/help.png            the same demo, help overlay (?)
#   screenshots/port-conflict.png   `bringup up` on a port held by `python3 -m http.server`:
#                                   the "port conflict" popup
#
# What it needs: a Debian/Ubuntu machine (it apt-get installs what is missing:
# xvfb xterm xdotool imagemagick fonts-dejavu-core x11-utils optipng; as root,
# or with sudo), python3 (for the port-holding http.server), and a Rust
# toolchain (it runs `cargo build --release`). Takes about 20 seconds once
# the binary is built.
#
# Environment knobs: COLS, ROWS (terminal size, default 120x34), FONT_SIZE
# (default 11), KEEP_TMP=1 (keep the scratch directory, for debugging).
#
# Everything it starts (Xvfb, the xterms, bringup and its services, the
# http.server) is stopped when it exits, also on failure or Ctrl-C. bringup
# itself is quit with `q` (SIGTERM only if that fails), so its stack stops cleanly.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/screenshots"
COLS=${COLS:-120}
ROWS=${ROWS:-34}
FONT_SIZE=${FONT_SIZE:-11}
FONT='DejaVu Sans Mono'

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'screenshots.sh: %s\n' "$*" >&2; exit 1; }

# --- what it needs ------------------------------------------------------------

# ImageMagick's own binaries (some machines put a stand-in `convert` earlier
# on PATH, so look in /usr/bin).
IM_IMPORT=/usr/bin/import
IM_CONVERT=/usr/bin/convert

need_install=()
for pair in Xvfb:xvfb xterm:xterm xdotool:xdotool xwininfo:x11-utils optipng:optipng; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need_install+=("${pair#*:}")
done
[[ -x $IM_IMPORT && -x $IM_CONVERT ]] || need_install+=(imagemagick)
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ]] || need_install+=(fonts-dejavu-core)
if ((${#need_install[@]})); then
    say "installing ${need_install[*]}"
    command -v apt-get >/dev/null || die "missing ${need_install[*]} and no apt-get to install them"
    SUDO=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || die "missing ${need_install[*]}: run as root or install them"
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${need_install[@]}"
fi
command -v python3 >/dev/null || die "python3 is needed (it holds the port for the conflict screenshot)"
command -v cargo >/dev/null || die "cargo is needed to build bringup"

say "building bringup (cargo build --release)"
(cd "$ROOT" && cargo build --release)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/bringup"
[[ $BIN = /* ]] || BIN="$ROOT/$BIN"
[[ -x $BIN ]] || die "no binary at $BIN after the build"

# --- scratch space and cleanup ------------------------------------------------

TMP=$(mktemp -d "${TMPDIR:-/tmp}/bringup-screenshots.XXXXXX")
XVFB_PID=
XTERM_PID=
HTTP_PID=
APP_PID=

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# Waits up to $2 seconds for pid $1 to be gone; true when it is.
wait_gone() {
    local pid=$1 tenths=$(($2 * 10))
    while alive "$pid" && ((tenths-- > 0)); do sleep 0.1; done
    ! alive "$pid"
}

stop_pid() {
    local pid=${1:-}
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    # A bringup still running: ask it to quit the way a person would, then
    # SIGTERM (it stops its stack on that too), then SIGKILL.
    if alive "$APP_PID"; then
        quit_app 2>/dev/null || stop_pid "$APP_PID"
    fi
    stop_pid "$XTERM_PID"
    stop_pid "$HTTP_PID"
    stop_pid "$XVFB_PID"
    if [[ ${KEEP_TMP:-} = 1 ]]; then
        echo "scratch directory kept: $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --- the X display ---------------------------------------------------------------

say "starting Xvfb"
# -displayfd: Xvfb picks a free display number and writes it to fd 3.
Xvfb -displayfd 3 -screen 0 1920x1200x24 -nolisten tcp -dpi 96 \
    3>"$TMP/display" >"$TMP/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 150); do
    [[ -s $TMP/display ]] && break
    alive "$XVFB_PID" || { cat "$TMP/xvfb.log" >&2; die "Xvfb did not start"; }
    sleep 0.1
done
[[ -s $TMP/display ]] || die "Xvfb gave no display number within 15 s"
export DISPLAY=":$(tr -d '[:space:]' <"$TMP/display")"

# --- one terminal at a time ----------------------------------------------------

# The program the xterm runs: note the window id and its own pid, then become
# bringup (so APP_PID is bringup's pid and the xterm closes when it exits).
cat >"$TMP/run-in-xterm.sh" <<'EOF'
#!/bin/sh
printf '%s\n' "$WINDOWID" >"$SHOT_STATE/wid.tmp" && mv "$SHOT_STATE/wid.tmp" "$SHOT_STATE/wid"
printf '%s\n' "$$" >"$SHOT_STATE/pid.tmp" && mv "$SHOT_STATE/pid.tmp" "$SHOT_STATE/pid"
exec "$@" 2>"$SHOT_STATE/stderr"
EOF
chmod +x "$TMP/run-in-xterm.sh"

# open_term ARGS...: an xterm running `bringup ARGS...`; sets WID, XTERM_PID, APP_PID.
open_term() {
    local state="$TMP/term.$RANDOM"
    mkdir -p "$state"
    env -u NO_COLOR -u COLORTERM LANG=C.UTF-8 LC_ALL=C.UTF-8 SHOT_STATE="$state" \
        xterm -u8 -fa "$FONT" -fs "$FONT_SIZE" -bg black -fg white \
        -geometry "${COLS}x${ROWS}+0+0" -tn xterm-256color +sb -bw 0 -b 6 \
        -title bringup -xrm 'XTerm*cursorBlink: false' \
        -e "$TMP/run-in-xterm.sh" "$BIN" "$@" >"$state/xterm.log" 2>&1 &
    XTERM_PID=$!
    for _ in $(seq 150); do
        [[ -s $state/wid && -s $state/pid ]] && break
        alive "$XTERM_PID" || { cat "$state/xterm.log" >&2; die "xterm exited at once"; }
        sleep 0.1
    done
    [[ -s $state/wid ]] || die "no xterm window within 15 s"
    WID=$(<"$state/wid")
    APP_PID=$(<"$state/pid")
    APP_STDERR="$state/stderr"
    # Wait for the window to be mapped, then give it the keyboard focus (there
    # is no window manager), so xdotool's XTEST keys reach it.
    for _ in $(seq 150); do
        xwininfo -id "$WID" 2>/dev/null | grep -q 'Map State: IsViewable' && break
        sleep 0.1
    done
    xdotool windowfocus "$WID" 2>/dev/null || true
}

# keys KEY...: xdotool key names (j, t, question, Escape, Tab, Return …).
keys() {
    alive "$APP_PID" || { cat "$APP_STDERR" >&2 2>/dev/null; die "bringup exited early"; }
    xdotool windowfocus "$WID" 2>/dev/null || true
    local k
    for k in "$@"; do
        xdotool key --clearmodifiers "$k"
        sleep 0.15
    done
}

# shot NAME: the xterm window as screenshots/NAME.png.
shot() {
    alive "$APP_PID" || { cat "$APP_STDERR" >&2 2>/dev/null; die "bringup exited before $1"; }
    sleep 0.4 # let the last key's frame be drawn
    local raw="$TMP/$1.raw.png" png="$TMP/$1.png"
    "$IM_IMPORT" -window "$WID" "$raw"
    "$IM_CONVERT" "$raw" -strip "$png"
    optipng -quiet -o2 "$png"
    mkdir -p "$OUT"
    mv -f "$png" "$OUT/$1.png"
    say "wrote screenshots/$1.png ($(($(stat -c %s "$OUT/$1.png") / 1024)) KB)"
}

# quit_app: `q` (and `y` should it ask to confirm), then wait for bringup to
# have stopped its stack and exited, and for its xterm to close. Fails when
# bringup is still there 18 s after the q.
quit_app() {
    if alive "$APP_PID"; then
        local start=$EPOCHREALTIME
        xdotool windowfocus "$WID" 2>/dev/null || true
        xdotool key --clearmodifiers q
        if ! wait_gone "$APP_PID" 3; then
            xdotool key --clearmodifiers y
            wait_gone "$APP_PID" 15 || return 1
        fi
        say "bringup quit after q in $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")s"
    fi
    wait_gone "$XTERM_PID" 5 || stop_pid "$XTERM_PID"
    APP_PID= XTERM_PID=
}

# --- a foreign server on a port, for the conflict screenshot -------------------

# Started first so that the popup shows it has been running for a while, as a
# forgotten server would. Debian's own python3 when there is one: its command
# line is shorter than a pyenv/venv one, and the popup shows it.
PYTHON=python3
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$TMP/www"
(cd "$TMP/www" && exec "$PYTHON" -m http.server "$PORT" --bind 127.0.0.1) >"$TMP/http.log" 2>&1 &
HTTP_PID=$!
# `bringup ports check PORT` exits 1 once the port is held.
for _ in $(seq 150); do
    "$BIN" ports check "$PORT" >/dev/null 2>&1 || break
    alive "$HTTP_PID" || { cat "$TMP/http.log" >&2; die "http.server did not start"; }
    sleep 0.1
done
"$BIN" ports check "$PORT" >/dev/null 2>&1 && die "http.server is not holding port $PORT after 15 s"

# --- 1. the demo: grid and logs, timeline, help -------------------------------

say "bringup demo"
open_term demo
# The demo is up in ~2 s (its optional cache fails on purpose). Wait a little
# longer so the log pane has some lines to show.
sleep 5
# Move the selection from database down to api, a chatty service (grid:
# database, cache, migrate, data, auth, training, api, …).
keys j j j j j j
sleep 2
shot grid-and-logs
keys t
sleep 1
shot timeline
keys t question
shot help
keys Escape
quit_app || die "bringup did not quit within 18 s of q"

# --- 2. a port conflict ---------------------------------------------------------

say "port conflict"
cat >"$TMP/conflict.toml" <<EOF
[project]
name = "conflict demo"

[services.db]
command = "\${bringup} fixture --name db --port \${port} --bind-after 300ms --log-every 2s"
port = "auto"

[services.api]
command = "\${bringup} fixture --name api --port \${port}"
port = $PORT
depends_on = ["db"]
EOF
open_term up -c "$TMP/conflict.toml"
sleep 3
shot port-conflict
keys Escape
quit_app || die "bringup did not quit within 18 s of q"
stop_pid "$HTTP_PID"
HTTP_PID=

say "done in ${SECONDS}s: $(cd "$ROOT" && ls screenshots/*.png | tr '\n' ' ')"
