#!/usr/bin/env bash
# SIPp load benchmark (issue point 5): SIPp sends OPTIONS over UDP at
# increasing rates to bench/cmd/echoserver (a stack.Server whose handler
# answers 200), all on loopback. For each rate it reports the calls, failed
# calls, SIPp's retransmissions, the server's CPU seconds (utime+stime from
# /proc/PID/stat) and CPU seconds per 1000 transactions. It stops raising the
# rate once a run has failures.
#
#   bench/sipp/run.sh                      # default rates, 1000 to 64000
#                                          # (about 45 s each: 10 s + drain)
#   bench/sipp/run.sh 1000 5000            # chosen rates (calls per second)
#   DURATION=5 DRAIN=0 bench/sipp/run.sh   # shorter, without Timer J drain
#   CPUPROFILE=/tmp/cpu.pprof bench/sipp/run.sh 8000
#   SERVER=/tmp/old/echoserver bench/sipp/run.sh 8000   # a prebuilt server
#   SCENARIO=register bench/sipp/run.sh 8000            # REGISTER, a user per call
#   SERVER_KIND=kamailio SCENARIO=register bench/sipp/run.sh 8000
#                       # Kamailio (bench/kamailio/registrar.cfg) as the reference
#
# Environment: PORT (server UDP port, 5070), DURATION (seconds per rate, 10),
# DRAIN (seconds to wait after each run so that the server's transactions
# reach Timer J = 32 s and end, 34; their teardown is counted in the run's
# CPU, and the next run starts on an idle server), CPUPROFILE (write the
# server's CPU profile over the whole session to this file), OUT (directory
# for SIPp's statistics and logs; a temporary one by default), SERVER (an
# echoserver binary built elsewhere, e.g. from another commit, to compare
# two builds side by side; by default the script builds this tree's),
# SCENARIO (options or register: bench/sipp/SCENARIO.xml; options by
# default), SERVER_KIND (echo, this project's bench/cmd/echoserver, or
# kamailio, Debian's Kamailio 5.6 with bench/kamailio/registrar.cfg, which
# saves every REGISTER in its in-memory location table: the reference the
# issues compare with). Server CPU is summed over the server's process and
# its children (Kamailio's workers).
#
# SIPp runs on the same two cores as the server: its own CPU time is shown
# too, and at the highest rates SIPp, not the server, may be what saturates.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench=$(dirname "$here")
PORT=${PORT:-5070}
DURATION=${DURATION:-10}
DRAIN=${DRAIN:-34}
CPUPROFILE=${CPUPROFILE:-}
if [[ $# -gt 0 ]]; then
	rates=("$@")
else
	rates=(1000 2000 4000 8000 12000 16000 20000 24000 28000 32000 36000 40000 48000 56000 64000)
fi

command -v sipp >/dev/null || { echo "sipp not found: apt-get install -y sip-tester" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time not found: apt-get install -y time" >&2; exit 1; }

out=${OUT:-$(mktemp -d /tmp/sipp-bench.XXXXXX)}
mkdir -p "$out"
echo "output in $out"

SCENARIO=${SCENARIO:-options}
SERVER_KIND=${SERVER_KIND:-echo}
[[ -f $here/$SCENARIO.xml ]] || { echo "no scenario $here/$SCENARIO.xml" >&2; exit 1; }
case $SERVER_KIND in
echo)
	server=${SERVER:-}
	if [[ -z $server ]]; then
		server=$out/echoserver
		(cd "$bench" && go build -o "$server" ./cmd/echoserver)
	fi
	server_args=(-addr "127.0.0.1:$PORT")
	[[ -n $CPUPROFILE ]] && server_args+=(-cpuprofile "$CPUPROFILE")
	"$server" "${server_args[@]}" >"$out/server.log" 2>&1 &
	spid=$!
	;;
kamailio)
	command -v kamailio >/dev/null || { echo "kamailio not found: apt-get install -y kamailio" >&2; exit 1; }
	# -DD: stay in the foreground (workers are still forked); -E: log to
	# stderr; 1 GiB of shared memory holds the location table.
	kamailio -f "$bench/kamailio/registrar.cfg" -DD -E -l "udp:127.0.0.1:$PORT" -m 1024 -M 16 \
		-Y "$out" >"$out/server.log" 2>&1 &
	spid=$!
	# Ready once it has bound the port and started its workers.
	for _ in $(seq 100); do
		awk -v p="0100007F:$(printf '%04X' "$PORT")" '$2 == p { f = 1 } END { exit !f }' /proc/net/udp && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	kill -0 "$spid" 2>/dev/null || { cat "$out/server.log" >&2; echo "kamailio did not start" >&2; exit 1; }
	echo listening >>"$out/server.log"
	;;
*)
	echo "SERVER_KIND is echo or kamailio" >&2
	exit 1
	;;
esac
cleanup() {
	if kill -0 "$spid" 2>/dev/null; then
		kill -TERM "$spid"
		for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$spid" 2>/dev/null || true
	fi
	wait "$spid" 2>/dev/null || true
	[[ -s $out/server.log ]] && sed 's/^/server: /' "$out/server.log"
}
trap cleanup EXIT

for _ in $(seq 100); do
	grep -q '^listening' "$out/server.log" 2>/dev/null && break
	kill -0 "$spid" 2>/dev/null || { cat "$out/server.log"; exit 1; }
	sleep 0.1
done
grep -q '^listening' "$out/server.log" || { echo "server did not start" >&2; exit 1; }

hz=$(getconf CLK_TCK)
# cpu_ticks prints utime+stime in clock ticks (proc(5) fields 14 and 15,
# counted after the ")" that ends the command name) of the server and of
# its child processes.
cpu_ticks() {
	local total=0 f stat rest
	for f in /proc/[0-9]*/stat; do
		stat=$(<"$f") 2>/dev/null || continue
		rest=${stat##*) }
		# rest: state ppid ... ; utime and stime are its 12th and 13th fields.
		read -r -a a <<<"$rest"
		if [[ ${f#/proc/} == "$spid/stat" || ${a[1]} == "$spid" ]]; then
			total=$((total + a[11] + a[12]))
		fi
	done
	echo "$total"
}
# server_drops prints the datagrams the kernel dropped because the server's
# socket buffer was full (proc(5) /proc/net/udp, last column "drops").
porthex=$(printf '%04X' "$PORT")
server_drops() {
	awk -v p="0100007F:$porthex" '$2 == p { print $NF; found = 1 } END { if (!found) print 0 }' /proc/net/udp
}
# all_drops prints the system's UDP receive-buffer errors (/proc/net/snmp):
# drops at SIPp's socket as well as the server's.
all_drops() {
	awk '/^Udp:/ { if (!hdr) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") col = i; hdr = 1 } else print $col }' /proc/net/snmp
}
# secs converts a difference of clock ticks into seconds.
secs() { awk -v a="$1" -v b="$2" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
# stat_field prints a column of the last row of a SIPp -trace_stat CSV.
stat_field() {
	awk -F';' -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i }
		END { if (col) print $col; else print "?" }' "$1"
}

# Columns: the rate asked of SIPp; SIPp's calls, failed calls and
# retransmissions; wall-clock seconds of the SIPp run and the rate achieved
# (calls / wall-s: below the asked rate when SIPp falls behind); SIPp's CPU
# seconds; datagrams dropped at the server's socket and at all UDP sockets
# (SIPp's included) for a full receive buffer; the server's CPU seconds
# during the run, during the drain that follows, and both; the server's CPU
# seconds per 1000 transactions (run + drain); SIPp's exit status.
printf '\n%-6s %-7s %-6s %-7s %-6s %-6s %-8s %-9s %-9s %-7s %-9s %-10s %-10s %-4s\n' \
	rate calls failed retrans wall-s cps sipp-cpu srv-drops all-drops run-cpu drain-cpu server-cpu cpu/1000tx exit
for rate in "${rates[@]}"; do
	calls=$((rate * DURATION))
	stf="$out/stat_$rate.csv"
	rm -f "$stf"
	before=$(cpu_ticks)
	sd0=$(server_drops)
	ad0=$(all_drops)
	t0=$(date +%s.%N)
	code=0
	# Bounded twice: SIPp's own -timeout, and timeout(1) around it.
	# -buff_size gives SIPp's socket 4 MiB (the kernel caps it at
	# net.core.rmem_max) so that responses are not dropped at SIPp:
	# without it most drops, and so most retransmissions, were SIPp's own.
	# The server's socket keeps the kernel default (net.core.rmem_default),
	# as the transport sets none.
	timeout --kill-after=10 $((DURATION * 3 + 60)) \
		/usr/bin/time -f '%U %S' -o "$out/sipp_time_$rate" \
		sipp -sf "$here/$SCENARIO.xml" -s echo -t u1 -i 127.0.0.1 \
		-r "$rate" -rp 1000 -m "$calls" -l $((rate * 2)) -buff_size 4194304 \
		-nostdin -trace_stat -stf "$stf" -fd 1 \
		-trace_err -error_file "$out/errors_$rate.log" \
		-timeout $((DURATION * 3 + 30))s -timeout_error \
		"127.0.0.1:$PORT" >"$out/sipp_$rate.log" 2>&1 || code=$?
	t1=$(date +%s.%N)
	mid=$(cpu_ticks)
	sdrops=$(($(server_drops) - sd0))
	adrops=$(($(all_drops) - ad0))
	if [[ $DRAIN -gt 0 ]]; then sleep "$DRAIN"; fi
	after=$(cpu_ticks)

	ok=$(stat_field "$stf" 'SuccessfulCall(C)')
	failed=$(stat_field "$stf" 'FailedCall(C)')
	retrans=$(stat_field "$stf" 'Retransmissions(C)')
	# time(1) puts "Command exited with non-zero status N" first on failure.
	read -r su ss < <(tail -n 1 "$out/sipp_time_$rate") || { su=0; ss=0; }
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	cps=$(awk -v a="$t0" -v b="$t1" -v n="$calls" 'BEGIN { printf "%.0f", n / (b - a) }')
	sippcpu=$(awk -v u="$su" -v s="$ss" 'BEGIN { printf "%.2f", u + s }')
	runcpu=$(secs "$before" "$mid")
	draincpu=$(secs "$mid" "$after")
	cpu=$(secs "$before" "$after")
	per=$(awk -v a="$before" -v b="$after" -v hz="$hz" -v n="$calls" 'BEGIN { printf "%.4f", (b - a) / hz / n * 1000 }')
	line=$(printf '%-6s %-7s %-6s %-7s %-6s %-6s %-8s %-9s %-9s %-7s %-9s %-10s %-10s %-4s' \
		"$rate" "$calls" "$failed" "$retrans" "$wall" "$cps" "$sippcpu" "$sdrops" "$adrops" "$runcpu" "$draincpu" "$cpu" "$per" "$code")
	echo "$line"
	if [[ $code -ne 0 || $failed != 0 || $ok != "$calls" ]]; then
		echo "failures at $rate calls/s (sipp exit $code, $ok of $calls successful); stopping" \
			"(see $out/sipp_$rate.log, $out/errors_$rate.log)"
		break
	fi
	best=$rate
done

echo
echo "highest rate without failures: ${best:-none} calls/s"
hwm=$(awk '/^VmHWM/ { print $2, $3 }' "/proc/$spid/status")
echo "server peak RSS: $hwm"
