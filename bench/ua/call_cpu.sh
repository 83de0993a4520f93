#!/usr/bin/env bash
# CPU-seconds per minute of a real call between two softphones on loopback:
# `switchboard answer -echo` (the callee sends back what it hears) and
# `switchboard call` playing a tone, G.711 µ-law over RTP, with and without
# SRTP, each process measured on its own (user + system time, bash's time).
# With baresip installed (baresip-core), a third call at the same time has
# baresip as the callee (auto-answer, playing the tone), for a peer's figure
# measured side by side: its process time covers the whole run (start-up
# and a few idle seconds included, a few hundredths of a second).
# Usage: bench/ua/call_cpu.sh [SECONDS] (default 60). All calls run at once,
# side by side, so the machine's noise falls on each alike.
set -euo pipefail
secs=${1:-60}
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)/switchboard
go build -o "$bin" ./cmd/switchboard
work=$(mktemp -d)
# baresip's aufile hangs up at the end of the file: make it outlast the call.
python3 - "$work/tone.wav" $((secs + 15)) <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1], "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000))) for i in range(8000 * int(sys.argv[2]))))
w.close()
PY
run() { # mode port
	local mode=$1 port=$2 extra=()
	[ "$mode" = srtp ] && extra=(-srtp)
	TIMEFORMAT="%U %S"
	{ time "$bin" answer -listen "127.0.0.1:$port" -calls 1 -echo "${extra[@]}" >"$work/$mode.answer" 2>&1; } 2>"$work/$mode.answer.time" &
	sleep 0.5
	{ time "$bin" call -duration "${secs}s" -play "$work/tone.wav" "${extra[@]}" "sip:echo@127.0.0.1:$port" >"$work/$mode.call" 2>&1; } 2>"$work/$mode.call.time"
	wait
	for side in call answer; do
		read -r u s <"$work/$mode.$side.time"
		awk -v m="$mode" -v side="$side" -v u="$u" -v s="$s" -v secs="$secs" \
			'BEGIN { printf "%-5s %-6s %6.3f cpu-s in %d s = %.3f cpu-s per call-minute\n", m, side, u + s, secs, (u + s) * 60 / secs }'
	done
	grep summary "$work/$mode.call"
}
baresip_run() { # port
	local port=$1 dir="$work/baresip"
	mkdir -p "$dir"
	printf 'sip_listen\t127.0.0.1:%s\nnet_interface\t127.0.0.1\nmodule_path\t%s\nmodule\tg711.so\nmodule\taufile.so\nmodule_tmp\taccount.so\naudio_source\taufile,%s\naudio_player\taufile,%s\n' \
		"$port" /usr/lib/baresip/modules "$work/tone.wav" "$dir/play.wav" >"$dir/config"
	echo "<sip:echo@127.0.0.1>;regint=0;answermode=auto" >"$dir/accounts"
	TIMEFORMAT="%U %S"
	{ time timeout -s TERM $((secs + 5)) baresip -f "$dir" >"$dir/out" 2>&1 || true; } 2>"$work/baresip.time" &
	sleep 1
	"$bin" call -duration "${secs}s" -play "$work/tone.wav" "sip:echo@127.0.0.1:$port" >"$work/baresip.call" 2>&1
	wait
	read -r u s <"$work/baresip.time"
	awk -v u="$u" -v s="$s" -v secs="$secs" \
		'BEGIN { printf "pcmu  baresip %6.3f cpu-s in %d s = %.3f cpu-s per call-minute (callee, whole run)\n", u + s, secs, (u + s) * 60 / secs }'
	grep summary "$work/baresip.call"
}
run pcmu 47690 >"$work/pcmu.out" &
if command -v baresip >/dev/null; then baresip_run 47694 >"$work/baresip.out" & fi
run srtp 47692 >"$work/srtp.out"
wait

cat "$work/pcmu.out" "$work/srtp.out"
[ -f "$work/baresip.out" ] && cat "$work/baresip.out"
true
