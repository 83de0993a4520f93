#!/usr/bin/env bash
# SIPp load benchmark (issue point 5): SIPp sends calls of a scenario over
# UDP at increasing rates to one server or several in turn, all on
# loopback. For each server and rate it reports the calls, successful and
# failed calls, SIPp's retransmissions, the rate achieved, the server's CPU
# seconds (utime+stime from /proc/PID/stat, summed over the server's
# process and its children) and CPU seconds per 1000 successful calls. A
# server's ramp stops once a run has failures.
#
#   bench/sipp/run.sh                      # OPTIONS to the echo server,
#                                          # 1000 to 64000 calls/s (about
#                                          # 45 s each: 10 s + drain)
#   bench/sipp/run.sh 1000 5000            # chosen rates (calls per second)
#   DURATION=5 DRAIN=0 bench/sipp/run.sh   # shorter, without Timer J drain
#   CPUPROFILE=/tmp/cpu.pprof bench/sipp/run.sh 8000
#   SERVER=/tmp/old/echoserver bench/sipp/run.sh 8000   # a prebuilt server
#   SCENARIO=register bench/sipp/run.sh 8000            # REGISTER, a user per call
#   SERVER_KIND=kamailio SCENARIO=register bench/sipp/run.sh 8000
#                       # Kamailio (bench/kamailio/registrar.cfg) as the reference
#   SERVER_KIND="switchboard kamailio" SCENARIO=register_auth PORT=5390 \
#       bench/sipp/run.sh 2000 4000 8000 12000 14000 16000
#                       # `switchboard serve` and Kamailio, one after the
#                       # other, with digest-authenticated REGISTERs
#   SERVER_KIND="switchboard kamailio" SCENARIO=call PORT=5390 \
#       bench/sipp/run.sh 500 1000 2000 3000 4000
#                       # full calls through each as a stateful proxy
#
# Environment:
#
#   PORT        server UDP port (5070); the script refuses a port that is
#               already bound, so that it never measures someone else's
#               server.
#   DURATION    seconds of load per rate (10).
#   DRAIN       seconds to wait after each run (34) so that the server's
#               transactions reach Timer J = 32 s and end; their teardown
#               is counted in the run's CPU, and the next run starts on an
#               idle server.
#   SCENARIO    options, register, register_auth or call:
#               bench/sipp/SCENARIO.xml (options by default).
#                 options        OPTIONS, answered 200.
#                 register       REGISTER for user[call_number], no
#                                authentication, answered 200.
#                 register_auth  REGISTER → 401 → REGISTER with MD5 digest
#                                credentials → 200, a new user per call,
#                                read from per-rate injection files
#                                (user;password, SEQUENTIAL): the run's
#                                calls take users user000001 … userN in
#                                order, N = sum(rates) × DURATION, the
#                                password of user U being "pw-U".
#                 call           a full call through the server as a
#                                stateful record-routing proxy: INVITE,
#                                100, 180, 200, ACK, BYE, 200 (no media)
#                                to uas@example.com, a second SIPp
#                                (call_uas.xml on PORT+2) that
#                                call_register.xml registered with the
#                                server first, without authentication.
#   SERVER_KIND one server or several, separated by spaces or commas, run
#               one after the other, each through the whole ramp, on a
#               fresh process (echo by default):
#                 echo         this project's bench/cmd/echoserver (a
#                              stack.Server answering 200).
#                 switchboard  `switchboard serve -config FILE`, the real
#                              registrar, with a generated configuration
#                              (UDP 127.0.0.1:PORT only, log level warn)
#                              and a data directory under OUT, on disk, so
#                              that bindings are written as in production
#                              (SQLite, fsync before the 200). For
#                              register_auth: domain example.com, digest
#                              MD5 only (SIPp 3.6 answers only the first
#                              challenge and knows only MD5), N accounts
#                              made by bench/cmd/mkusers; for register:
#                              domain 127.0.0.1, authentication off; for
#                              call: domain example.com, authentication
#                              off and 127.0.0.1 trusted, so calls are
#                              neither challenged nor refused.
#                 kamailio     Debian's Kamailio 5.6 with
#                              bench/kamailio/registrar.cfg, or
#                              registrar_auth.cfg for register_auth, which
#                              keep every binding in the in-memory location
#                              table, or proxy.cfg for call (tm,
#                              record_route, lookup, t_relay): the
#                              references the issues compare with.
#   SERVER      a prebuilt binary for the echo or switchboard kind (not
#               both in one run), e.g. from another commit, to compare two
#               builds; by default the script builds this tree's.
#   USERS_DB    for switchboard and register_auth: a subscribers.db that
#               already holds the N accounts (e.g. OUT/subscribers.db of an
#               earlier run with the same or larger rates); by default the
#               script makes one with bench/cmd/mkusers on a tmpfs (about
#               13 000 accounts/s).
#   CPUPROFILE  write the Go server's CPU profile (echo, or switchboard
#               through `serve -cpuprofile`) over the whole session to this
#               file; Kamailio writes none.
#   MEMPROFILE  switchboard only: write its heap profile (in use at the
#               end, and allocated over the session) to this file.
#   OUT         directory for SIPp's statistics and logs, the injection
#               files and the servers' data (OUT/switchboard-run holds the
#               switchboard configuration and data directory of the last
#               run); a temporary one by default.
#
# SIPp runs on the same cores as the server: its own CPU time is shown too,
# and at the highest rates SIPp, not the server, may be what saturates.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench=$(dirname "$here")
root=$(dirname "$bench")
PORT=${PORT:-5070}
DURATION=${DURATION:-10}
DRAIN=${DRAIN:-34}
CPUPROFILE=${CPUPROFILE:-}
SCENARIO=${SCENARIO:-options}
SERVER_KIND=${SERVER_KIND:-echo}
SERVER=${SERVER:-}
USERS_DB=${USERS_DB:-}
if [[ $# -gt 0 ]]; then
	rates=("$@")
elif [[ $SCENARIO == register_auth ]]; then
	rates=(2000 4000 8000 12000 14000 16000)
elif [[ $SCENARIO == call ]]; then
	rates=(500 1000 2000 3000 4000 5000)
else
	rates=(1000 2000 4000 8000 12000 16000 20000 24000 28000 32000 36000 40000 48000 56000 64000)
fi

command -v sipp >/dev/null || { echo "sipp not found: apt-get install -y sip-tester" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time not found: apt-get install -y time" >&2; exit 1; }
[[ -f $here/$SCENARIO.xml ]] || { echo "no scenario $here/$SCENARIO.xml" >&2; exit 1; }
read -r -a kinds <<<"${SERVER_KIND//,/ }"
[[ ${#kinds[@]} -gt 0 ]] || { echo "SERVER_KIND is empty" >&2; exit 1; }
for kind in "${kinds[@]}"; do
	case $kind in
	echo | switchboard) ;;
	kamailio) command -v kamailio >/dev/null || { echo "kamailio not found: apt-get install -y kamailio" >&2; exit 1; } ;;
	*) echo "SERVER_KIND lists echo, switchboard or kamailio, not $kind" >&2; exit 1 ;;
	esac
done
if [[ -n $SERVER && " ${kinds[*]} " == *" echo "* && " ${kinds[*]} " == *" switchboard "* ]]; then
	echo "SERVER names one binary: run echo and switchboard separately" >&2
	exit 1
fi
if [[ -n $CPUPROFILE && " ${kinds[*]} " == *" kamailio "* ]]; then
	echo "CPUPROFILE applies to echo and switchboard; Kamailio writes none" >&2
fi
for r in "${rates[@]}"; do
	[[ $r =~ ^[1-9][0-9]*$ ]] || { echo "rate $r is not a positive number of calls per second" >&2; exit 1; }
done

porthex=$(printf '%04X' "$PORT")
# port_bound reports whether a UDP socket is bound to PORT on 127.0.0.1 or
# on every address (/proc/net/udp, local address in hex).
port_bound() {
	awk -v a="0100007F:$porthex" -v b="00000000:$porthex" '$2 == a || $2 == b { f = 1 } END { exit !f }' /proc/net/udp
}
if port_bound; then
	echo "UDP port $PORT is already in use (another server?); choose a free one with PORT=" >&2
	exit 1
fi

out=${OUT:-$(mktemp -d /tmp/sipp-bench.XXXXXX)}
mkdir -p "$out"
echo "output in $out"

# Injection files (register_auth): one distinct user per call over the
# whole ramp; the step at rate r takes the next r × DURATION users.
inf_args=()
users=0
for r in "${rates[@]}"; do users=$((users + r * DURATION)); done
width=${#users}
[[ $width -lt 6 ]] && width=6
declare -A inf_file
if [[ $SCENARIO == register_auth ]]; then
	first=1
	for r in "${rates[@]}"; do
		n=$((r * DURATION))
		f="$out/users_$r.csv"
		awk -v a="$first" -v n="$n" -v w="$width" 'BEGIN {
			print "SEQUENTIAL"
			for (i = a; i < a + n; i++) printf "user%0*d;pw-user%0*d\n", w, i, w, i
		}' >"$f"
		inf_file[$r]=$f
		first=$((first + n))
	done
	printf 'injection files: %d users (user%0*d … user%0*d), password pw-USER\n' "$users" "$width" 1 "$width" "$users"
fi

# Binaries and the switchboard accounts, made once for the whole run.
for kind in "${kinds[@]}"; do
	case $kind in
	echo)
		if [[ -z $SERVER ]]; then
			echoserver=$out/echoserver
			(cd "$bench" && go build -o "$echoserver" ./cmd/echoserver)
		else
			echoserver=$SERVER
		fi
		;;
	switchboard)
		if [[ -z $SERVER ]]; then
			switchboard=$out/switchboard
			(cd "$root" && go build -o "$switchboard" ./cmd/switchboard)
		else
			switchboard=$SERVER
		fi
		if [[ $SCENARIO == register_auth ]]; then
			if [[ -n $USERS_DB ]]; then
				usersdb=$USERS_DB
			else
				usersdb=$out/subscribers.db
				(cd "$bench" && go build -o "$out/mkusers" ./cmd/mkusers)
				# Each Put is a durable transaction: on a tmpfs its fsync
				# costs nothing. The file then goes to disk.
				tmp=$(mktemp -d "$([[ -d /dev/shm ]] && echo /dev/shm || echo /tmp)/sipp-bench-users.XXXXXX")
				"$out/mkusers" -data "$tmp" -n "$users" -width "$width" -domain example.com
				mv "$tmp/subscribers.db" "$usersdb"
				rm -rf "$tmp"
			fi
		fi
		;;
	esac
done

spid=
uaspid=
UASPORT=$((PORT + 2))
# stop_server stops the server (and the callee SIPp of the call scenario),
# waiting for it to shut down, and prints the end of its log.
stop_server() {
	if [[ -n $uaspid ]]; then
		kill -TERM "$uaspid" 2>/dev/null || true
		wait "$uaspid" 2>/dev/null || true
		uaspid=
	fi
	[[ -n $spid ]] || return 0
	if kill -0 "$spid" 2>/dev/null; then
		kill -TERM "$spid"
		for _ in $(seq 150); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$spid" 2>/dev/null || true
	fi
	wait "$spid" 2>/dev/null || true
	if [[ -s $slog ]]; then
		local n
		n=$(wc -l <"$slog")
		[[ $n -gt 30 ]] && echo "server: ($n lines; the last 30 follow; all in $slog)"
		tail -n 30 "$slog" | sed 's/^/server: /'
	fi
	spid=
}
trap stop_server EXIT

# wait_port waits until the server has bound PORT, or fails.
wait_port() {
	for _ in $(seq 200); do
		port_bound && return 0
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$slog" >&2
	echo "$1 did not start" >&2
	exit 1
}

# start_server starts a fresh server of kind $1 on PORT; spid is its pid.
start_server() {
	local kind=$1
	slog="$out/server_$kind.log"
	case $kind in
	echo)
		local args=(-addr "127.0.0.1:$PORT")
		[[ -n $CPUPROFILE ]] && args+=(-cpuprofile "$CPUPROFILE")
		"$echoserver" "${args[@]}" >"$slog" 2>&1 &
		spid=$!
		for _ in $(seq 100); do
			grep -q '^listening' "$slog" 2>/dev/null && break
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.1
		done
		grep -q '^listening' "$slog" || { cat "$slog" >&2; echo "echo server did not start" >&2; exit 1; }
		;;
	switchboard)
		local dir="$out/switchboard-run"
		rm -rf "$dir"
		mkdir -p "$dir/data"
		local domain=example.com auth="{algorithms: [MD5]}"
		local proxy="{}"
		if [[ $SCENARIO == register ]]; then
			# register.xml registers user[n]@127.0.0.1 without credentials.
			domain=127.0.0.1 auth="{enabled: false}"
		elif [[ $SCENARIO == call ]]; then
			# As Kamailio's proxy.cfg: no authentication at all.
			auth="{enabled: false}" proxy="{trusted: [127.0.0.1]}"
		fi
		[[ $SCENARIO == register_auth ]] && cp "$usersdb" "$dir/data/subscribers.db"
		cat >"$dir/switchboard.yaml" <<-EOF
			# Generated by bench/sipp/run.sh: UDP only.
			listen:
			  udp: ["127.0.0.1:$PORT"]
			  tcp: []
			  tls: []
			data_dir: ./data
			domains: [$domain]
			auth: $auth
			proxy: $proxy
			log:
			  level: warn
		EOF
		local args=(-config "$dir/switchboard.yaml")
		[[ -n $CPUPROFILE ]] && args+=(-cpuprofile "$CPUPROFILE")
		[[ -n ${MEMPROFILE:-} ]] && args+=(-memprofile "$MEMPROFILE")
		"$switchboard" serve "${args[@]}" >"$slog" 2>&1 &
		spid=$!
		wait_port switchboard
		;;
	kamailio)
		local cfg=$bench/kamailio/registrar.cfg
		[[ $SCENARIO == register_auth ]] && cfg=$bench/kamailio/registrar_auth.cfg
		[[ $SCENARIO == call ]] && cfg=$bench/kamailio/proxy.cfg
		# -DD: stay in the foreground (workers are still forked); -E: log
		# to stderr; 1 GiB of shared memory holds the location table.
		kamailio -f "$cfg" -DD -E -l "udp:127.0.0.1:$PORT" -m 1024 -M 16 \
			-Y "$out" >"$slog" 2>&1 &
		spid=$!
		wait_port kamailio
		# Bound; give the workers a moment to start.
		sleep 1
		kill -0 "$spid" 2>/dev/null || { cat "$slog" >&2; echo "kamailio did not start" >&2; exit 1; }
		;;
	esac
	[[ $SCENARIO == call ]] && start_callee
	return 0
}

# start_callee starts the SIPp callee of the call scenario on UASPORT and
# registers it with the server as uas@example.com.
start_callee() {
	sipp -sf "$here/call_uas.xml" -t u1 -i 127.0.0.1 -p "$UASPORT" -buff_size 4194304 -nostdin \
		-trace_err -error_file "$out/errors_callee_$kind.log" >"$out/sipp_callee_$kind.log" 2>&1 &
	uaspid=$!
	sleep 0.5
	kill -0 "$uaspid" 2>/dev/null || { cat "$out/sipp_callee_$kind.log" >&2; echo "the callee SIPp did not start" >&2; exit 1; }
	timeout 30 sipp -sf "$here/call_register.xml" -key uas "127.0.0.1:$UASPORT" -m 1 -t u1 -i 127.0.0.1 -p 0 \
		-nostdin -timeout 20s -timeout_error "127.0.0.1:$PORT" >"$out/sipp_register_$kind.log" 2>&1 ||
		{ tail -n 20 "$out/sipp_register_$kind.log" >&2; echo "registering the callee with $kind failed" >&2; exit 1; }
}

hz=$(getconf CLK_TCK)
# cpu_ticks prints utime+stime in clock ticks (proc(5) fields 14 and 15,
# counted after the ")" that ends the command name) of the server and of
# its child processes.
cpu_ticks() {
	local total=0 f stat rest
	for f in /proc/[0-9]*/stat; do
		{ stat=$(<"$f"); } 2>/dev/null || continue # the process ended
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
# why summarises SIPp's error log: the calls aborted on an unexpected
# response (by the status expected and the one received) and those that
# timed out waiting for a response (by scenario index). Late responses to
# calls already over ("Dead call") are left out.
why() {
	[[ -s $1 ]] || { echo "no SIPp errors logged"; return; }
	{
		grep -o "while expecting '[0-9]*' (index [0-9]*), received 'SIP/2.0 [0-9]*" "$1" |
			sed "s/while expecting '\([0-9]*\)' (index [0-9]*), received 'SIP\/2.0 \([0-9]*\)/\2 instead of \1/" || true
		grep -o "receive timeout on message [^:]*:[0-9]*" "$1" |
			sed 's/.*:\([0-9]*\)$/timeout at scenario index \1/' || true
	} | sort | uniq -c | sort -rn | head -n 5 |
		awk '{ n = $1; $1 = ""; printf "%s%s ×%d", sep, substr($0, 2), n; sep = ", " } END { if (!NR) printf "no aborted calls logged"; print "" }'
}

# Columns: the server; the rate asked of SIPp; SIPp's calls, successful
# calls, failed calls and retransmissions; wall-clock seconds of the SIPp
# run and the rate achieved (successful calls / wall-s: below the asked
# rate when SIPp or the server falls behind); SIPp's CPU seconds; datagrams
# dropped at the server's socket and at all UDP sockets (SIPp's included)
# for a full receive buffer; the server's CPU seconds during the run,
# during the drain that follows, and both; the server's CPU seconds per
# 1000 successful calls (run + drain); SIPp's exit status.
fmt='%-11s %-6s %-7s %-7s %-6s %-7s %-6s %-6s %-8s %-9s %-9s %-7s %-9s %-10s %-10s %-4s\n'
declare -A res_ok res_failed res_cps res_per res_cpu
declare -A best rss
echo
echo "scenario $SCENARIO over UDP, $DURATION s per rate, drain $DRAIN s; servers: ${kinds[*]}"
for kind in "${kinds[@]}"; do
	start_server "$kind"
	printf "\n$fmt" server rate calls ok failed retrans wall-s ok/s sipp-cpu srv-drops all-drops \
		run-cpu drain-cpu server-cpu cpu/1000ok exit
	for rate in "${rates[@]}"; do
		calls=$((rate * DURATION))
		tag="${kind}_$rate"
		stf="$out/stat_$tag.csv"
		rm -f "$stf" "$out/errors_$tag.log"
		inf_args=()
		[[ -n ${inf_file[$rate]:-} ]] && inf_args=(-inf "${inf_file[$rate]}")
		before=$(cpu_ticks)
		sd0=$(server_drops)
		ad0=$(all_drops)
		t0=$(date +%s.%N)
		code=0
		# Bounded twice: SIPp's own -timeout, and timeout(1) around it.
		# -buff_size gives SIPp's socket 4 MiB (the kernel caps it at
		# net.core.rmem_max) so that responses are not dropped at SIPp:
		# without it most drops, and so most retransmissions, were
		# SIPp's own. The server's socket keeps the kernel default
		# (net.core.rmem_default) unless the server sets its own.
		timeout --kill-after=10 $((DURATION * 3 + 60)) \
			/usr/bin/time -f '%U %S' -o "$out/sipp_time_$tag" \
			sipp -sf "$here/$SCENARIO.xml" "${inf_args[@]}" -s echo -t u1 -i 127.0.0.1 \
			-r "$rate" -rp 1000 -m "$calls" -l $((rate * 2)) -buff_size 4194304 \
			-nostdin -trace_stat -stf "$stf" -fd 1 \
			-trace_err -error_file "$out/errors_$tag.log" \
			-timeout $((DURATION * 3 + 30))s -timeout_error \
			"127.0.0.1:$PORT" >"$out/sipp_$tag.log" 2>&1 || code=$?
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
		read -r su ss < <(tail -n 1 "$out/sipp_time_$tag") || { su=0; ss=0; }
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
		cps=$(awk -v a="$t0" -v b="$t1" -v n="$ok" 'BEGIN { printf "%.0f", n / (b - a) }')
		sippcpu=$(awk -v u="$su" -v s="$ss" 'BEGIN { printf "%.2f", u + s }')
		runcpu=$(secs "$before" "$mid")
		draincpu=$(secs "$mid" "$after")
		cpu=$(secs "$before" "$after")
		per=$(awk -v a="$before" -v b="$after" -v hz="$hz" -v n="$ok" \
			'BEGIN { if (n > 0) printf "%.4f", (b - a) / hz / n * 1000; else print "-" }')
		printf "$fmt" "$kind" "$rate" "$calls" "$ok" "$failed" "$retrans" "$wall" "$cps" "$sippcpu" \
			"$sdrops" "$adrops" "$runcpu" "$draincpu" "$cpu" "$per" "$code"
		res_ok[$tag]=$ok res_failed[$tag]=$failed res_cps[$tag]=$cps res_per[$tag]=$per res_cpu[$tag]=$cpu
		if [[ $code -ne 0 || $failed != 0 || $ok != "$calls" ]]; then
			echo "$kind: failures at $rate calls/s (sipp exit $code, $ok of $calls successful): $(why "$out/errors_$tag.log");" \
				"stopping (see $out/sipp_$tag.log, $out/errors_$tag.log)"
			break
		fi
		best[$kind]=$rate
	done
	rss[$kind]=$(awk '/^VmHWM/ { print $2, $3 }' "/proc/$spid/status")
	stop_server
done

echo
echo "summary: scenario $SCENARIO, $DURATION s per rate; per server: successful calls/s achieved," \
	"failed calls, CPU-seconds per 1000 successful calls (run + drain)"
printf '%-6s' rate
for kind in "${kinds[@]}"; do printf ' | %-30s' "$kind ok/s failed cpu/1000ok"; done
echo
for rate in "${rates[@]}"; do
	printf '%-6s' "$rate"
	for kind in "${kinds[@]}"; do
		tag="${kind}_$rate"
		if [[ -n ${res_ok[$tag]:-} ]]; then
			printf ' | %-8s %-8s %-12s ' "${res_cps[$tag]}" "${res_failed[$tag]}" "${res_per[$tag]}"
		else
			printf ' | %-30s' "-"
		fi
	done
	echo
done
echo
for kind in "${kinds[@]}"; do
	echo "$kind: highest rate without failures: ${best[$kind]:-none} calls/s; server peak RSS (main process): ${rss[$kind]:-?}"
done
