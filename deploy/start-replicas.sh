#!/usr/bin/env bash
# Starts N `pagoda serve` replicas and Debian's nginx in front of them on this machine:
# least-connections balancing, affinity by X-Session-Id, unbuffered streaming, failover of
# requests that have not started answering (deploy/README.md). Arguments it does not know go
# to every `pagoda serve`. Ctrl-C or SIGTERM stops the whole set (running requests get
# --shutdown-timeout to finish); a replica that exits is started again on its port.
#   deploy/start-replicas.sh                                   # 2 replicas of the demo model, :8000
#   deploy/start-replicas.sh -n 4 -m model.gguf --kv-cache-memory 2GiB --api-key s3cret
#   deploy/start-replicas.sh -n 0 --servers 10.0.0.5:8000,10.0.0.6:8000 --host 0.0.0.0
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
me=start-replicas

usage() {
  cat <<EOF
usage: deploy/start-replicas.sh [options] [--] [pagoda serve arguments...]
  -n, --replicas N        local replicas to start (default 2; 0 with --servers)
  --host H                address the balancer listens on (default 127.0.0.1)
  --port P                balancer port (default \$PAGODA_PORT or 8000; 0 picks a free one)
  --replica-port P        first replica port, the others follow (default: free ports)
  --servers H:P,...       replicas started elsewhere, balanced with the local ones
  --dir DIR               config, pid files and logs (default: a temporary directory,
                          removed at exit)
  --max-fails N           failures that take a replica out (default 3)
  --fail-timeout S        seconds they are counted over and it stays out (default 10)
  --restart-delay S|off   wait before starting a replica that exited again (default 2)
  --nginx-workers N       nginx worker processes (default 1)
  --upstream-header       answer with X-Pagoda-Upstream: the replica(s) tried (debugging)
  --render                print the nginx config (with --dir, for --servers/--replica-port)
                          and exit
Environment: PAGODA_BINARY (default build/pagoda), NGINX (default nginx), PAGODA_MODEL.
EOF
}

replicas=2
host=127.0.0.1
port=${PAGODA_PORT:-8000}
replica_port=0
servers_csv=""
dir=""
max_fails=3
fail_timeout=10
restart_delay=2
workers=1
upstream_header=0
render_only=0
serve_args=()
while (($#)); do
  case "$1" in
    -n | --replicas) replicas=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --replica-port) replica_port=$2; shift 2 ;;
    --servers) servers_csv=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --max-fails) max_fails=$2; shift 2 ;;
    --fail-timeout) fail_timeout=$2; shift 2 ;;
    --restart-delay) restart_delay=$2; shift 2 ;;
    --nginx-workers) workers=$2; shift 2 ;;
    --upstream-header) upstream_header=1; shift ;;
    --render) render_only=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; serve_args+=("$@"); break ;;
    *) serve_args+=("$1"); shift ;;
  esac
done

die() { echo "$me: $*" >&2; exit 1; }
say() { echo "$me: $*"; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in replicas port replica_port max_fails fail_timeout workers; do
  is_uint "${!v}" || die "--${v//_/-} wants a number, not '${!v}'"
done
[[ $restart_delay == off ]] || is_uint "$restart_delay" || die "--restart-delay wants seconds or off"
((max_fails >= 1 && fail_timeout >= 1)) || die "--max-fails and --fail-timeout must be at least 1"

# Upstream servers: the local replicas (ports known once they listen) and --servers.
remote=()
if [[ -n $servers_csv ]]; then
  IFS=, read -r -a remote <<<"$servers_csv"
  for s in "${remote[@]}"; do [[ $s =~ ^[^[:space:]]+:[0-9]+$ ]] || die "--servers: '$s' is not HOST:PORT"; done
fi
((replicas + ${#remote[@]} >= 1)) || die "nothing to balance: -n 0 and no --servers"

render() {  # render OUT DIR PORT SERVER...
  local out=$1 d=$2 listen_port=$3 lines="" s extra=""
  shift 3
  for s in "$@"; do
    lines+="        server $s max_fails=$max_fails fail_timeout=${fail_timeout}s;"$'\n'
  done
  lines=${lines%$'\n'}
  ((upstream_header)) && extra="            add_header X-Pagoda-Upstream \$upstream_addr always;"
  local listen=$host:$listen_port
  [[ $host == *:* ]] && listen="[$host]:$listen_port"
  local t
  t=$(<"$here/nginx.conf.template")
  t=${t//@WORKERS@/$workers}
  t=${t//@DIR@/$d}
  t=${t//@LOGS@/$d/logs}
  t=${t//@SERVERS@/$lines}
  t=${t//@LISTEN@/$listen}
  t=${t//@EXTRA_LOCATION@/$extra}
  [[ $t != *@[A-Z_]*@* ]] || die "a placeholder of nginx.conf.template was left unrendered"
  printf '%s\n' "$t" >"$out"
}

if ((render_only)); then
  [[ -n $dir ]] || die "--render needs --dir (where the running nginx keeps its files)"
  all=()
  if ((replicas)); then
    ((replica_port)) || die "--render with local replicas needs --replica-port"
    for ((i = 0; i < replicas; i++)); do all+=("127.0.0.1:$((replica_port + i))"); done
  fi
  all+=("${remote[@]}")
  render /dev/stdout "$(realpath -m "$dir")" "$port" "${all[@]}"
  exit 0
fi

nginx_bin=${NGINX:-nginx}
command -v "$nginx_bin" >/dev/null ||
  die "nginx not found (Debian: apt-get install -y --no-install-recommends nginx)"
pagoda=${PAGODA_BINARY:-$root/build/pagoda}
[[ ! $replicas -gt 0 || -x $pagoda ]] || die "no pagoda binary at $pagoda (./scripts/build.sh pagoda, or set PAGODA_BINARY)"

# The model: as scripts/start.sh, -m / PAGODA_MODEL, else the demo model, written here once
# (not by N replicas at the same time).
have_model=0 have_threads=0 have_kv=0
for a in "${serve_args[@]}"; do
  [[ $a == -m || $a == --model || $a == --model=* || $a == *.gguf ]] && have_model=1
  [[ $a == -t || $a == --threads || $a == --threads=* ]] && have_threads=1
  [[ $a == --kv-cache-memory || $a == --kv-cache-memory=* ]] && have_kv=1
  [[ $a == --port || $a == --port=* || $a == --host || $a == --host=* ]] &&
    die "--host/--port here are the balancer's; replicas get their own ports (--replica-port)"
done
if ((replicas && !have_model)); then
  if [[ -n ${PAGODA_MODEL:-} ]]; then
    serve_args=(-m "$PAGODA_MODEL" "${serve_args[@]}")
  else
    if [[ ! -f $root/models/demo.gguf ]]; then
      say "writing the demo model models/demo.gguf (random weights: its text is noise)"
      mkdir -p "$root/models"
      (cd "$root" && "$pagoda" make-model -o models/demo.gguf >/dev/null)
    fi
    serve_args=(-m "$root/models/demo.gguf" "${serve_args[@]}")
  fi
fi
# Replicas on one machine share its cores: each gets its part unless -t says otherwise.
if ((replicas && !have_threads)); then
  threads=$(($(nproc) / replicas))
  ((threads >= 1)) || threads=1
  serve_args+=(-t "$threads")
fi
((replicas < 2 || have_kv)) ||
  say "note: each replica sizes its own KV pool; --kv-cache-memory keeps N of them within RAM"

# The working directory: nginx's prefix, config, pid files, logs.
own_dir=0
if [[ -z $dir ]]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/pagoda-lb.XXXXXX")
  own_dir=1
else
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
fi
logs=$dir/logs
mkdir -p "$logs" "$dir/tmp"
rm -f "$dir"/stopping "$dir"/ready "$dir"/replica-*.pid "$dir"/replica-*.port "$dir/nginx.pid"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# GET URL → HTTP status (000 when nothing answers).
http_status() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}
command -v curl >/dev/null || die "curl is needed for the health checks (apt-get install curl)"

# Ports taken by a listening TCP socket (any address).
port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h="$hex" '$4 == "0A" { split($2, a, ":"); if (a[2] == h) found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "no free port found"
}

# One supervisor per local replica: starts `pagoda serve` in its own session (so a Ctrl-C in
# the terminal reaches only this script, which then stops everything in order), records its
# pid and port, and starts it again on the same port when it exits, until the set stops.
# Supervisors ignore signals (this script signals the replicas); should the script itself
# vanish (SIGKILL), each stops its replica within a second.
main_pid=$$
supervise() {
  local i=$1 p=$2 log pid rc
  trap '' INT TERM HUP
  log=$logs/replica-$i.log
  : >"$log"
  while :; do
    [[ -e $dir/stopping ]] && return 0
    setsid "$pagoda" serve "${serve_args[@]}" --host 127.0.0.1 --port "$p" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/replica-$i.pid"
    # The set may have begun stopping after the check above, with the previous pid.
    [[ -e $dir/stopping ]] && kill -TERM "$pid" 2>/dev/null
    if ((p == 0)); then
      while :; do
        p=$(grep -m1 -oE 'listening on http://[^ ]+:[0-9]+' "$log" | grep -oE '[0-9]+$' || true)
        [[ -n $p ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05 || true
      done
      p=${p:-0}
    fi
    ((p == 0)) || echo "$p" >"$dir/replica-$i.port"
    while kill -0 "$pid" 2>/dev/null; do
      if ! kill -0 "$main_pid" 2>/dev/null; then
        touch "$dir/stopping"
        kill -TERM "$pid" 2>/dev/null
      fi
      sleep 0.5 || true
    done
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    [[ -e $dir/stopping ]] && return 0
    if [[ ! -e $dir/ready ]]; then
      echo "$me: replica $i exited during start-up (status $rc); its log ($log):" >&2
      tail -n 20 "$log" >&2
      return 1
    fi
    if [[ $restart_delay == off ]]; then
      say "replica $i (pid $pid) exited (status $rc); not started again (--restart-delay off)"
      return 0
    fi
    say "replica $i (pid $pid) exited (status $rc); starting it again on port $p in ${restart_delay}s"
    sleep "$restart_delay" || true
  done
}
# The same for nginx: stopped (gracefully) when the script vanishes.
watch_nginx() {
  trap '' INT TERM HUP
  while kill -0 "$1" 2>/dev/null; do
    kill -0 "$main_pid" 2>/dev/null || { kill -QUIT "$1" 2>/dev/null; return 0; }
    sleep 1 || true
  done
}

nginx_pid=""
sup_pids=()
stopping=0
alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }
replica_pids() {
  local f
  for f in "$dir"/replica-*.pid; do [[ -e $f ]] && cat "$f"; done
  return 0
}
# Stops the set: nginx finishes what it has (SIGQUIT), every replica drains (SIGTERM); what
# is still there after the replicas' drain time and 5 s more is killed. A second signal
# stops everything at once.
stop_all() {
  local code=${1:-0} p deadline
  if ((stopping)); then
    trap - INT TERM HUP
    for p in $(replica_pids) $nginx_pid; do kill -KILL "$p" 2>/dev/null || true; done
    return
  fi
  stopping=1
  trap 'stop_all' INT TERM HUP
  touch "$dir/stopping"
  say "stopping: nginx finishes its requests, replicas drain"
  alive "$nginx_pid" && kill -QUIT "$nginx_pid" 2>/dev/null
  for p in $(replica_pids); do kill -TERM "$p" 2>/dev/null || true; done
  deadline=$((SECONDS + drain_s + 5))
  while ((SECONDS < deadline)); do
    local left=0
    for p in "${sup_pids[@]}" $nginx_pid; do alive "$p" && left=1; done
    ((left)) || break
    sleep 0.1
  done
  for p in $(replica_pids) $nginx_pid; do
    alive "$p" && { say "killing $p"; kill -KILL "$p" 2>/dev/null || true; }
  done
  wait 2>/dev/null || true
  say "stopped"
  exit "$code"
}
cleanup() {
  local p
  # Nothing outlives the script, even when it fails half-way.
  touch "$dir/stopping" 2>/dev/null || true
  for p in $(replica_pids) $nginx_pid; do kill -KILL "$p" 2>/dev/null || true; done
  ((own_dir)) && rm -rf "$dir"
  return 0
}
drain_s=10
for ((k = 0; k < ${#serve_args[@]}; k++)); do
  [[ ${serve_args[k]} == --shutdown-timeout ]] && drain_s=${serve_args[k + 1]:-10}
  [[ ${serve_args[k]} == --shutdown-timeout=* ]] && drain_s=${serve_args[k]#*=}
done
trap cleanup EXIT
trap 'stop_all 0' INT TERM HUP

# 1. Replicas, each healthy (GET /health 200) before nginx starts.
for ((i = 1; i <= replicas; i++)); do
  p=0
  ((replica_port)) && p=$((replica_port + i - 1))
  supervise "$i" "$p" &
  sup_pids+=($!)
done
upstreams=()
for ((i = 1; i <= replicas; i++)); do
  deadline=$((SECONDS + 300))
  while :; do
    alive "${sup_pids[i - 1]}" || die "replica $i did not start (log: $logs/replica-$i.log)"
    if [[ -s $dir/replica-$i.port ]]; then
      rp=$(<"$dir/replica-$i.port")
      [[ $(http_status "http://127.0.0.1:$rp/health") == 200 ]] && break
    fi
    ((SECONDS < deadline)) || die "replica $i not healthy within 300 s (log: $logs/replica-$i.log)"
    sleep 0.1
  done
  upstreams+=("127.0.0.1:$rp")
  say "replica $i: http://127.0.0.1:$rp (pid $(<"$dir/replica-$i.pid"), log $logs/replica-$i.log)"
done
upstreams+=("${remote[@]}")

# 2. nginx, in the foreground of its own session, on the rendered config.
want_free=0
((port == 0)) && want_free=1
for _ in 1 2 3 4 5; do
  ((want_free)) && port=$(free_port)
  render "$dir/nginx.conf" "$dir" "$port" "${upstreams[@]}"
  "$nginx_bin" -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$logs/nginx-error.log" ||
    die "nginx rejected $dir/nginx.conf (see above)"
  : >"$logs/nginx-error.log"
  setsid "$nginx_bin" -p "$dir/" -c "$dir/nginx.conf" -e "$logs/nginx-error.log" </dev/null \
    >>"$logs/nginx-error.log" 2>&1 &
  nginx_pid=$!
  deadline=$((SECONDS + 20))
  while alive "$nginx_pid" && ((SECONDS < deadline)); do
    [[ $(http_status "http://127.0.0.1:$port/health") == 200 ]] && break
    sleep 0.1
  done
  if alive "$nginx_pid"; then
    watch_nginx "$nginx_pid" &
    break
  fi
  nginx_pid=""
  if ((want_free)) && grep -q "Address already in use" "$logs/nginx-error.log"; then continue; fi
  cat "$logs/nginx-error.log" >&2
  die "nginx did not start"
done
alive "$nginx_pid" || die "nginx did not start"
touch "$dir/ready"
url_host=$host
[[ $host == 0.0.0.0 || $host == :: ]] && url_host=127.0.0.1
[[ $url_host == *:* ]] && url_host="[$url_host]"
say "balancer: nginx (pid $nginx_pid) over ${#upstreams[@]} replica(s), config $dir/nginx.conf, logs $logs"
say "ready on http://$url_host:$port  (OpenAI base URL: http://$url_host:$port/v1)"

# 3. Until a signal: nginx must stay up; replicas are looked after by their supervisors.
while :; do
  sleep 1 &
  wait $! || true
  ((stopping)) && continue
  if ! alive "$nginx_pid"; then
    echo "$me: nginx exited; its log:" >&2
    tail -n 20 "$logs/nginx-error.log" >&2
    stop_all 1
  fi
done
