#!/usr/bin/env bash
# The deployment of deploy/ rehearsed on one machine, as plain processes on
# loopback ports: three NATS nodes from deploy/nats/ with credentials from
# takedownd -gen-credentials, two takedownd replicas from
# deploy/takedownd-replica.yaml, one report through them to a notice, and
# then the load tool (takedownsim load) against the same three nodes.
#
#   deploy/local-cluster.sh [-reports N] [-no-load] [-fault-node] [-keep] [-- LOAD FLAGS…]
#
#   -reports N  reports the load step publishes (default 2000)
#   -no-load    stop after the report went through the replicas
#   -fault-node the load step is the fault run `takedownsim fault node`:
#               nats-2 is SIGKILLed and the last replica with it a third
#               of the way in, both started again later; it prints the
#               invariants and the script exits 1 when one broke
#   -keep       at the end, keep everything running until Ctrl-C
#   -- …        the rest goes to takedownsim load (e.g. -hosts 500
#               -rdap-latency 50ms -settle 20m; takedownsim help lists them)
#
# Nothing leaves the machine: nats-server is built from the module cache
# (the version go.mod names), and the replicas reach DNS, RDAP, the hosters
# and the mail relay of `takedownsim world` on loopback, never the internet.
# Everything stops when the script exits; its files (configs, stores, logs,
# credentials) stay in the run directory it prints first.
set -euo pipefail

reports=2000
load=1
fault_node=0
keep=0
load_flags=()
while (($#)); do
	case $1 in
	--) shift; load_flags=("$@"); break ;;
	-reports) reports=$2; shift 2 ;;
	-no-load) load=0; shift ;;
	-fault-node) fault_node=1; shift ;;
	-keep) keep=1; shift ;;
	-h | -help | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "local-cluster.sh: unknown flag $1 (-h for help)" >&2; exit 2 ;;
	esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# From the repository's root, as the README runs things: the daemon's
# relative defaults (config/contacts.yaml) and takedownsim's search for the
# RDAP fixtures (shared/fixtures/rdap above it, or $TAKEDOWND_FIXTURES)
# start here.
cd "$repo"
run=$(mktemp -d "${TMPDIR:-/tmp}/takedownd-cluster.XXXXXX")
bin=$run/bin
creds=$run/credentials
echo "run directory: $run"

say() { printf '\n== %s\n' "$*"; }
fail() {
	echo "local-cluster.sh: $*" >&2
	exit 1
}

# --- processes: every one we start is stopped on exit, the last first ---
pids=()
names=()
cleanup() {
	local code=$? i
	trap - EXIT INT TERM
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		stop_one "$i"
	done
	# A node the fault run started again is not one of ours: its pid file.
	for i in "$run"/nats-?/restarted.pid; do
		[[ -f $i ]] && kill -TERM "$(<"$i")" 2>/dev/null || true
	done
	echo
	echo "stopped everything; the run's files are in $run"
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME LOG CMD... runs CMD in the background, its output to LOG.
start() {
	local name=$1 log=$2
	shift 2
	"$@" >"$log" 2>&1 &
	pids+=($!)
	names+=("$name")
}

# stop_one INDEX sends SIGTERM to one process we started and waits for it.
stop_one() {
	local pid=${pids[$1]}
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	pids[$1]=
}

# stop NAME... stops the processes started under these names.
stop() {
	local n i
	for n in "$@"; do
		for i in "${!names[@]}"; do
			if [[ ${names[$i]} == "$n" ]]; then stop_one "$i"; fi
		done
	done
}

# pid_of NAME is the process started under NAME.
pid_of() {
	local i
	for i in "${!names[@]}"; do
		if [[ ${names[$i]} == "$1" && -n ${pids[$i]} ]]; then echo "${pids[$i]}"; fi
	done
}

# wait_for WHAT SECONDS NAME LOG CMD... polls CMD until it succeeds. It
# fails at once when the process NAME has exited (showing the end of its
# LOG), and after SECONDS in any case: a deadline, never a pause.
wait_for() {
	local what=$1 within=$2 name=$3 log=$4 pid
	shift 4
	local deadline=$((SECONDS + within))
	pid=$(pid_of "$name")
	until "$@" >/dev/null 2>&1; do
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$log" >&2 || true
			fail "$name exited while waiting for $what (log: $log)"
		fi
		((SECONDS < deadline)) || {
			tail -n 30 "$log" >&2 || true
			fail "no $what within ${within}s (log: $log)"
		}
		sleep 0.2
	done
	echo "  $what"
}

# derive SRC DST FROM TO [FROM TO]... writes SRC to DST with each literal
# FROM replaced by its TO, and fails if a FROM is not in SRC: when a
# deploy file changes, this script says so rather than running something
# else than it claims.
derive() {
	local src=$1 dst=$2 text
	shift 2
	text=$(<"$src")
	while (($#)); do
		[[ $text == *"$1"* ]] || fail "$src no longer contains '$1': update deploy/local-cluster.sh"
		text=${text//"$1"/"$2"}
		shift 2
	done
	printf '%s\n' "$text" >"$dst"
}

# --- ports: consecutive free loopback ports from a random base ---
# The base is below the kernel's ephemeral range, so that no other
# program's outgoing connection or :0 listener takes a port between the
# check and the start.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_ports() {
	local want=$1 base p tries low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((low > 20000 + 2 * want)) || fail "the ephemeral port range starts at $low: no room below it"
	for ((tries = 0; tries < 50; tries++)); do
		base=$((20000 + RANDOM % (low - 20000 - want)))
		for ((p = base; p < base + want; p++)); do
			port_free "$p" || continue 2
		done
		echo "$base"
		return
	done
	fail "no $want free consecutive ports on 127.0.0.1"
}
base=$(pick_ports 11)
client=($((base)) $((base + 1)) $((base + 2)))
route=($((base + 3)) $((base + 4)) $((base + 5)))
monitor=($((base + 6)) $((base + 7)) $((base + 8)))
api=($((base + 9)) $((base + 10)))
nats_urls="nats://127.0.0.1:${client[0]},nats://127.0.0.1:${client[1]},nats://127.0.0.1:${client[2]}"

say "building takedownd, takedownctl, takedownsim and nats-server into $bin"
go build -o "$bin/" ./cmd/takedownd ./cmd/takedownctl ./cmd/takedownsim || fail "build failed"
go build -o "$bin/nats-server" github.com/nats-io/nats-server/v2 || fail "build of nats-server failed"
"$bin/nats-server" --version

say "credentials: takedownd -gen-credentials"
"$bin/takedownd" -gen-credentials "$creds" \
	-nats-routes "127.0.0.1:${route[0]},127.0.0.1:${route[1]},127.0.0.1:${route[2]}" >"$run/credentials.txt"
sed -n '1,/^$/d; /^$/q; p' "$run/credentials.txt" | sed 's/^/ /'

# --- the three nodes: deploy/nats/ with this machine's ports and dirs ---
# node_command N runs node N in place of the shell (exec: the pid a caller
# keeps is the server's, so a kill reaches it); nats.env is the nodes'
# environment, as EnvironmentFile= makes it.
node_command() {
	exec env -i PATH="$PATH" bash -c 'set -a; . "$1"; set +a; exec "$2" -c "$3"' _ \
		"$creds/nats.env" "$bin/nats-server" "$run/nats-$1/nats-$1.conf"
}
start_nodes() {
	local i n
	for i in 0 1 2; do
		n=$((i + 1))
		mkdir -p "$run/nats-$n"
		cp "$repo/deploy/nats/nats-$n.conf" "$run/nats-$n/"
		derive "$repo/deploy/nats/takedown.conf" "$run/nats-$n/takedown.conf" \
			"listen: 0.0.0.0:4222" "listen: 127.0.0.1:${client[$i]}" \
			"http: 127.0.0.1:8222" "http: 127.0.0.1:${monitor[$i]}" \
			"store_dir: /var/lib/nats" "store_dir: \"$run/nats-$n\"" \
			"listen: 0.0.0.0:6222" "listen: 127.0.0.1:${route[$i]}"
		start "nats-$n" "$run/nats-$n/log" node_command "$n"
	done
	for i in 0 1 2; do
		n=$((i + 1))
		wait_for "nats-$n healthy (JetStream with a meta leader)" 120 "nats-$n" "$run/nats-$n/log" \
			curl -fsS "http://127.0.0.1:${monitor[$i]}/healthz"
	done
}
say "three NATS nodes from deploy/nats/ (client ports ${client[*]}, routes ${route[*]})"
start_nodes

# --- the simulated internet the replicas run against ---
say "takedownsim world (DNS, RDAP, hosters, mail relay on loopback)"
start world "$run/world.log" "$bin/takedownsim" world -ports free -dir "$run/world"
wait_for "the world's daemon config" 120 world "$run/world.log" test -s "$run/world/takedownd.yaml"

# world_sections prints the top-level sections of the world's config that
# point the daemon at the simulated internet.
world_sections() {
	awk '/^[a-z_]+:/ { keep = ($1 == "enrich:" || $1 == "route:" || $1 == "notify:" || $1 == "recheck:") }
		keep' "$run/world/takedownd.yaml"
}
# without_sections prints deploy/takedownd-replica.yaml without the
# sections the world replaces.
without_sections() {
	awk '/^[a-z_]+:/ { drop = ($1 == "enrich:" || $1 == "route:" || $1 == "notify:" || $1 == "recheck:") }
		!drop' "$1"
}

say "TLS for the replicas' API (self-signed, 127.0.0.1)"
mkdir -p "$run/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$run/tls/api.key" -out "$run/tls/api.crt" 2>/dev/null ||
	fail "openssl could not make the API certificate"
chmod 600 "$run/tls/api.key"

# --- two replicas: deploy/takedownd-replica.yaml on this machine ---
nl=$'\n'
say "two takedownd replicas from deploy/takedownd-replica.yaml (API https://127.0.0.1:${api[0]}, :${api[1]})"
for i in 0 1; do
	n=$((i + 1))
	without_sections "$repo/deploy/takedownd-replica.yaml" >"$run/replica.base.yaml"
	derive "$run/replica.base.yaml" "$run/takedownd-$n.yaml" \
		"data_dir: /var/lib/takedownd" "data_dir: \"$run/takedownd-$n\"" \
		"urls: [nats://nats-1:4222, nats://nats-2:4222, nats://nats-3:4222]" "urls: [${nats_urls//,/, }]" \
		"/etc/takedownd/credentials/" "$creds/" \
		"/etc/takedownd/tls/" "$run/tls/" \
		"listen: 0.0.0.0:8443" "listen: 127.0.0.1:${api[$i]}"
	{
		echo "# What points this replica at the simulated internet, from $run/world/takedownd.yaml:"
		world_sections
	} >>"$run/takedownd-$n.yaml"
	# The replicas share the VERP secret, as deploy/takedownd-replica.yaml says.
	derive "$run/takedownd-$n.yaml" "$run/takedownd-$n.yaml" \
		"${nl}notify:${nl}" "${nl}notify:${nl}  verp: {secret_file: \"$creds/verp-secret\"}${nl}"
	"$bin/takedownd" -check-config -config "$run/takedownd-$n.yaml" | sed 's/^/  /'
done
secret=$(<"$run/world/partner-secret")
for n in 1 2; do
	start "takedownd-$n" "$run/takedownd-$n.log" env TAKEDOWNSIM_PARTNER_SECRET="$secret" \
		"$bin/takedownd" -config "$run/takedownd-$n.yaml"
done
for i in 0 1; do
	n=$((i + 1))
	wait_for "takedownd-$n ready (GET /readyz)" 180 "takedownd-$n" "$run/takedownd-$n.log" \
		curl -fsS --cacert "$run/tls/api.crt" "https://127.0.0.1:${api[$i]}/readyz"
done

ctl() {
	SSL_CERT_FILE=$run/tls/api.crt "$bin/takedownctl" -api "https://127.0.0.1:${api[0]}" \
		-token-file "$creds/api-token" -nats "$nats_urls" -nats-nkey "$creds/nats-takedownctl.nk" "$@"
}
say "one report through the cluster (takedownctl submit with the takedownctl key)"
url="http://www.quick-removal-sim.com/local-cluster/a.jpg"
ctl submit -classification A1 -priority high "$url"
mail_arrived() { compgen -G "$run/world/mail/*.eml" >/dev/null; }
wait_for "the notice at the world's relay ($run/world/mail/)" 180 takedownd-1 "$run/takedownd-1.log" mail_arrived
ctl list -all

if command -v nats >/dev/null; then
	say "the keys' permissions, with the nats CLI"
	nats --server "$nats_urls" --nkey "$creds/nats-takedownd.nk" --inbox-prefix _INBOX_takedownd stream report
	if nats --server "$nats_urls" --nkey "$creds/nats-analyst.nk" stream ls >/dev/null 2>&1; then
		fail "the analyst key may list streams"
	fi
	echo "  the analyst key may not list streams (as it should)"
	nats --server "$nats_urls" --nkey "$creds/nats-system.nk" server list
fi

# --- the load tool against the same three nodes ---
# The load tool starts its own two replicas (this takedownd, the cluster's
# takedownd key) with the config its world writes, so the replicas above
# stop first, and the nodes start again on empty stores: the load run
# counts every case it finds.
if ((load)); then
	say "load: takedownsim load, $reports reports, two replicas, on fresh nodes"
	stop takedownd-1 takedownd-2 world nats-1 nats-2 nats-3
	rm -rf "$run"/nats-?/jetstream  # nats-server keeps its store in <store_dir>/jetstream
	start_nodes
	if ((fault_node)); then
		# What the fault run calls to lose nats-2 and to bring it back: the
		# kill is SIGKILL (a node lost, not stopped), the start is the same
		# command line as the first, in the background with its pid kept.
		printf '#!/usr/bin/env bash\nkill -KILL %s "$(cat "%s" 2>/dev/null)" 2>/dev/null; exit 0\n' \
			"$(pid_of nats-2)" "$run/nats-2/restarted.pid" >"$run/node-down.sh"
		{
			echo '#!/usr/bin/env bash'
			declare -f node_command
			printf 'creds=%q bin=%q run=%q\n' "$creds" "$bin" "$run"
			echo 'node_command 2 >>"$run/nats-2/log" 2>&1 </dev/null &'
			echo 'echo $! >"$run/nats-2/restarted.pid"'
		} >"$run/node-up.sh"
		chmod +x "$run/node-down.sh" "$run/node-up.sh"
		say "fault node: takedownsim fault node, $reports reports, two replicas; nats-2 and takedownd-1 lost a third of the way in"
		"$bin/takedownsim" fault node -daemon "$bin/takedownd" -replicas 2 -nats "$nats_urls" \
			-nkey "$creds/nats-takedownd.nk" -analyst-nkey "$creds/nats-analyst.nk" \
			-node-down "$run/node-down.sh" -node-up "$run/node-up.sh" \
			-reports "$reports" -dir "$run/load" -json "$run/load/result.json" "${load_flags[@]}"
	else
		"$bin/takedownsim" load -daemon "$bin/takedownd" -replicas 2 -nats "$nats_urls" \
			-nkey "$creds/nats-takedownd.nk" -analyst-nkey "$creds/nats-analyst.nk" \
			-reports "$reports" -dir "$run/load" -json "$run/load/result.json" "${load_flags[@]}"
	fi
	echo "  result: $run/load/result.json"
fi

if ((keep)); then
	say "running; Ctrl-C stops everything"
	wait
fi
