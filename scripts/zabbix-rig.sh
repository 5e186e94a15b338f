#!/usr/bin/env bash
# scripts/zabbix-rig.sh: the real Zabbix 6.0 (Debian 12 packages) the WARD FLUX Zabbix tests
# talk to, on loopback. scripts/test.sh runs `start` once and exports what it prints; a test
# run without those variables runs `start` itself (crates/wardflux-testkit/src/zabbix.rs).
#   start   install packages if missing, create/start PostgreSQL, load schema once,
#           start frontend (php -S) + zabbix_server, wait for the API, print endpoints
#   stop    stop what start started, by the PIDs it recorded (never by process name)
#   status  show recorded PIDs and whether they are alive
#   reset   stop web+server, recreate the zabbix DB from the pristine seed copy, start again
# Everything listens on 127.0.0.1 only. State lives in $ZBX_DIR (default /tmp/zbx).
set -euo pipefail

ZBX_DIR=${ZBX_DIR:-/tmp/zbx}
PG_PORT=${ZBX_PG_PORT:-55432}
WEB_PORT=${ZBX_WEB_PORT:-18080}
TRAP_PORT=${ZBX_TRAPPER_PORT:-10151}
PHP_WORKERS=${ZBX_PHP_WORKERS:-4}
CACHE_UPDATE=${ZBX_CACHE_UPDATE_FREQUENCY:-1}   # s; 1 = API-made items usable in ~1 s, ~8% of a core idle
RUN=$ZBX_DIR/run
LOGS=$ZBX_DIR/log
PGDATA=$ZBX_DIR/pg/data
PGSOCK=$ZBX_DIR/pg
SRVDIR=$ZBX_DIR/server
SQLDIR=/usr/share/zabbix-server-pgsql
WEBROOT=/usr/share/zabbix
FRONTEND_CONF=/etc/zabbix/zabbix.conf.php   # path is hard-coded in Debian's frontend
API_URL="http://127.0.0.1:$WEB_PORT/api_jsonrpc.php"
# cmdline patterns that recorded PIDs must match before they are signalled (guards PID reuse)
PG_PAT="postgres -D $PGDATA"
WEB_PAT="php -S 127.0.0.1:$WEB_PORT"
SRV_PAT="zabbix_server -f -c $ZBX_DIR/zabbix_server.conf"

log() { printf "[zabbix-rig %3ds] %s\n" "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_su() { PGOPTIONS="-c client_min_messages=warning" "$(pgbin)/psql" -h "$PGSOCK" -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

# --- PID bookkeeping --------------------------------------------------------
# running PID: exists and is not a zombie (an exited daemon re-parented to init stays a
# zombie until init reaps it, and kill -0 still succeeds on it)
running() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [ -n "$st" ] && [ "$st" != Z ]; }
# alive NAME PATTERN: recorded PID exists, is running and its cmdline matches PATTERN
alive() {
  local f="$RUN/$1.pid" pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  running "$pid" || return 1
  [[ "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" == *"$2"* ]]
}
# stop_pid NAME PATTERN SIGNAL GROUP(0|1): signal the recorded PID (GROUP=1: its whole process
# group, which setsid made equal to the PID), wait up to 30 s, then SIGKILL the group as a fallback.
stop_pid() {
  local name=$1 pat=$2 sig=$3 group=$4 pid _ isleader=0
  if ! alive "$name" "$pat"; then rm -f "$RUN/$name.pid"; return 0; fi
  pid=$(cat "$RUN/$name.pid")
  [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] && isleader=1
  log "stopping $name (pid $pid)"
  if [ "$group" = 1 ] && [ $isleader = 1 ]; then kill "-$sig" -- "-$pid" 2>/dev/null || true
  else kill "-$sig" "$pid" 2>/dev/null || true; fi
  for _ in $(seq 300); do running "$pid" || break; sleep 0.1; done
  if running "$pid"; then
    log "$name did not exit in 30 s, SIGKILL"
    if [ $isleader = 1 ]; then kill -KILL -- "-$pid" 2>/dev/null || true; else kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  # leftovers of the group the recorded PID led (e.g. orphaned workers)
  if [ $isleader = 1 ] && kill -0 -- "-$pid" 2>/dev/null; then kill -TERM -- "-$pid" 2>/dev/null || true; fi
  rm -f "$RUN/$name.pid"
}

# guard_port PORT NAME PATTERN: fail if something that is not our recorded process listens there
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
guard_port() {
  if ! alive "$2" "$3" && port_busy "$1"; then die "127.0.0.1:$1 is already in use by another process (set ZBX_*_PORT)"; fi
}

# --- packages ---------------------------------------------------------------
ensure_packages() {
  if [ -x /usr/sbin/zabbix_server ] && [ -x /usr/bin/zabbix_sender ] && [ -f $SQLDIR/schema.sql.gz ] \
     && [ -f $WEBROOT/api_jsonrpc.php ] && command -v php >/dev/null && php -r 'exit(extension_loaded("pgsql") ? 0 : 1);' \
     && [ -n "$(pgbin)" ]; then return 0; fi
  [ "$(id -u)" -eq 0 ] || die "packages missing and not root"
  log "installing Debian packages"
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep postinst scripts from starting daemons
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
  fi
  # php8.2-cgi (not -fpm/apache) satisfies php8.2's "libapache2-mod-php8.2 | php8.2-fpm | php8.2-cgi"
  # without a service; the trailing "-" keeps apt from choosing the Apache module.
  local pkgs=(zabbix-server-pgsql zabbix-frontend-php zabbix-agent
              php8.2-cli php8.2-cgi php8.2-pgsql libapache2-mod-php8.2-)
  [ -n "$(pgbin)" ] || pkgs+=(postgresql)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" \
    > "$LOGS/apt.log" 2>&1 \
  || { apt-get update -q > "$LOGS/apt-update.log" 2>&1;
       DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" \
         > "$LOGS/apt.log" 2>&1; } \
  || { [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; die "apt-get install failed, see $LOGS/apt.log"; }
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# --- PostgreSQL -------------------------------------------------------------
start_pg() {
  local pb; pb=$(pgbin)
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initdb $PGDATA"
    rm -rf "$PGDATA"; mkdir -p "$PGDATA"
    [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$ZBX_DIR/pg"
    as_pg "$pb/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
      > "$LOGS/initdb.log" 2>&1 || die "initdb failed, see $LOGS/initdb.log"
    cat >> "$PGDATA/postgresql.conf" <<EOF
# zabbix-rig (test only: durability off)
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGSOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
max_connections = 100
EOF
  fi
  if alive postgres "$PG_PAT"; then return 0; fi
  guard_port "$PG_PORT" postgres "$PG_PAT"
  rm -f "$RUN/postgres.pid"
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_pg "$pb/pg_ctl" -D "$PGDATA" -l "$ZBX_DIR/pg/postgres.log" -w -t 60 start > /dev/null \
    || die "pg_ctl start failed, see $ZBX_DIR/pg/postgres.log"
  head -1 "$PGDATA/postmaster.pid" > "$RUN/postgres.pid"
}

db_exists() { [ "$(psql_su -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname='$1'")" = 1 ]; }

init_db() {
  psql_su -d postgres -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='zabbix')
    THEN CREATE ROLE zabbix LOGIN PASSWORD 'zabbix'; END IF; END\$\$;"
  if ! db_exists zabbix_seed; then
    log "loading Zabbix schema/images/data into zabbix_seed (one-time, ~10 s)"
    psql_su -d postgres -c "DROP DATABASE IF EXISTS zabbix_seed_tmp" -c "CREATE DATABASE zabbix_seed_tmp OWNER zabbix"
    # Loaded as superuser with FK triggers off (session_replication_role=replica: ~2x faster,
    # the vendor data is consistent) but under SET ROLE zabbix so that zabbix owns every object.
    { echo "SET session_replication_role = replica; SET ROLE zabbix;"
      zcat $SQLDIR/schema.sql.gz $SQLDIR/images.sql.gz $SQLDIR/data.sql.gz; } \
      | psql_su -d zabbix_seed_tmp > "$LOGS/schema.log" 2>&1 || die "schema load failed, see $LOGS/schema.log"
    # Quiet test DB: disable the stock "Zabbix server" host (it polls an agent on 127.0.0.1:10050
    # and would raise "agent not available" problems after a few minutes).
    psql_su -d zabbix_seed_tmp -c "UPDATE hosts SET status=1 WHERE hostid=10084"
    # Without statistics the planner picks nested loops and every config sync takes ~0.5 s.
    psql_su -d zabbix_seed_tmp -c "ANALYZE"
    psql_su -d postgres -c "ALTER DATABASE zabbix_seed_tmp RENAME TO zabbix_seed"
  fi
  if ! db_exists zabbix; then
    log "creating database zabbix from zabbix_seed"
    psql_su -d postgres -c "CREATE DATABASE zabbix TEMPLATE zabbix_seed OWNER zabbix"
  fi
}

# --- frontend ---------------------------------------------------------------
write_frontend_conf() {
  local new; new=$(cat <<EOF
<?php
// zabbix-rig: generated, test only
\$DB['TYPE']           = 'POSTGRESQL';
\$DB['SERVER']         = '127.0.0.1';
\$DB['PORT']           = '$PG_PORT';
\$DB['DATABASE']       = 'zabbix';
\$DB['USER']           = 'zabbix';
\$DB['PASSWORD']       = 'zabbix';
\$DB['SCHEMA']         = '';
\$DB['ENCRYPTION']     = false;
\$DB['KEY_FILE']       = '';
\$DB['CERT_FILE']      = '';
\$DB['CA_FILE']        = '';
\$DB['VERIFY_HOST']    = false;
\$DB['CIPHER_LIST']    = '';
\$DB['VAULT_URL']      = '';
\$DB['VAULT_DB_PATH']  = '';
\$DB['VAULT_TOKEN']    = '';
\$DB['DOUBLE_IEEE754'] = true;
\$ZBX_SERVER           = '127.0.0.1';
\$ZBX_SERVER_PORT      = '$TRAP_PORT';
\$ZBX_SERVER_NAME      = 'zabbix-rig';
\$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
EOF
)
  if [ -f "$FRONTEND_CONF" ] && [ "$(cat "$FRONTEND_CONF")" = "$new" ]; then return 0; fi
  if [ -f "$FRONTEND_CONF" ] && ! grep -q 'zabbix-rig' "$FRONTEND_CONF"; then
    cp -p "$FRONTEND_CONF" "$FRONTEND_CONF.rig-backup"; log "saved existing $FRONTEND_CONF.rig-backup"
  fi
  printf '%s\n' "$new" > "$FRONTEND_CONF"; chmod 644 "$FRONTEND_CONF"
}

start_web() {
  if alive web "$WEB_PAT"; then return 0; fi
  guard_port "$WEB_PORT" web "$WEB_PAT"
  log "starting frontend: php -S 127.0.0.1:$WEB_PORT ($PHP_WORKERS workers)"
  # setsid: own session + process group, so stop can reach the forked workers via -PGID
  PHP_CLI_SERVER_WORKERS=$PHP_WORKERS setsid php -S "127.0.0.1:$WEB_PORT" -t "$WEBROOT" \
    >> "$LOGS/php.log" 2>&1 < /dev/null &
  echo $! > "$RUN/web.pid"
}

# --- zabbix_server ----------------------------------------------------------
start_server() {
  mkdir -p "$SRVDIR"; [ "$(id -u)" -eq 0 ] && chown zabbix:zabbix "$SRVDIR"
  cat > "$ZBX_DIR/zabbix_server.conf" <<EOF
# zabbix-rig: test-only server, loopback only
ListenIP=127.0.0.1
ListenPort=$TRAP_PORT
SourceIP=127.0.0.1
LogType=console
PidFile=$SRVDIR/zabbix_server.pid
SocketDir=$SRVDIR
DBHost=127.0.0.1
DBPort=$PG_PORT
DBName=zabbix
DBUser=zabbix
DBPassword=zabbix
# pick up hosts/items created through the API quickly (default 60 s)
CacheUpdateFrequency=$CACHE_UPDATE
HousekeepingFrequency=0
StartPollers=1
StartPollersUnreachable=1
StartPreprocessors=1
StartHistoryPollers=1
StartTrappers=2
StartPingers=0
StartDiscoverers=0
StartHTTPPollers=0
StartTimers=1
StartEscalators=1
StartAlerters=1
StartDBSyncers=1
StartLLDProcessors=1
StartODBCPollers=0
StartReportWriters=0
StartVMwareCollectors=0
StartJavaPollers=0
StartProxyPollers=0
StartIPMIPollers=0
StartSNMPTrapper=0
CacheSize=32M
HistoryCacheSize=16M
HistoryIndexCacheSize=4M
TrendCacheSize=4M
ValueCacheSize=16M
Timeout=4
FpingLocation=/usr/bin/fping
StatsAllowedIP=127.0.0.1
EOF
  if alive server "$SRV_PAT"; then return 0; fi
  guard_port "$TRAP_PORT" server "$SRV_PAT"
  log "starting zabbix_server (trapper on 127.0.0.1:$TRAP_PORT)"
  setsid /usr/sbin/zabbix_server -f -c "$ZBX_DIR/zabbix_server.conf" >> "$LOGS/zabbix_server.log" 2>&1 < /dev/null &
  echo $! > "$RUN/server.pid"
}

# --- readiness --------------------------------------------------------------
rpc() { curl -s --max-time 10 -H 'Content-Type: application/json-rpc' -d "$1" "$API_URL"; }
wait_ready() {
  local _ t0=$SECONDS
  for _ in $(seq 600); do
    [[ "$(rpc '{"jsonrpc":"2.0","method":"apiinfo.version","params":[],"id":1}' 2>/dev/null)" == *'"result":"6.0'* ]] && break
    alive web "$WEB_PAT" || die "php -S exited, see $LOGS/php.log"
    sleep 0.1
  done
  [[ "$(rpc '{"jsonrpc":"2.0","method":"user.login","params":{"username":"Admin","password":"zabbix"},"id":1}')" \
     =~ \"result\":\"[0-9a-f]{32}\" ]] || die "API answers but user.login fails (see $LOGS/php.log)"
  for _ in $(seq 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$TRAP_PORT") 2>/dev/null && break
    alive server "$SRV_PAT" || die "zabbix_server exited, see $LOGS/zabbix_server.log"
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$TRAP_PORT") 2>/dev/null || die "trapper port $TRAP_PORT not open"
  log "ready in $((SECONDS - t0)) s after processes were launched"
}

print_info() {
  cat <<EOF
ZABBIX_API_URL=$API_URL
ZABBIX_USER=Admin
ZABBIX_PASSWORD=zabbix
ZABBIX_TRAPPER=127.0.0.1:$TRAP_PORT
ZABBIX_DB=postgresql://zabbix:zabbix@127.0.0.1:$PG_PORT/zabbix
# e.g. zabbix_sender -z 127.0.0.1 -p $TRAP_PORT -s HOST -k KEY -o VALUE
EOF
}

cmd_start() {
  mkdir -p "$ZBX_DIR" "$RUN" "$LOGS" "$ZBX_DIR/pg"
  ensure_packages
  start_pg
  init_db
  write_frontend_conf
  start_web
  start_server
  wait_ready
  print_info
}

cmd_stop() {
  stop_pid web "$WEB_PAT" TERM 1      # parent + PHP_CLI_SERVER_WORKERS children (process group)
  stop_pid server "$SRV_PAT" TERM 0   # main process stops its own children
  stop_pid postgres "$PG_PAT" INT 0   # SIGINT = fast shutdown
  log "stopped"
}

cmd_status() {
  local n p
  for n in postgres web server; do
    case $n in postgres) p=$PG_PAT;; web) p=$WEB_PAT;; server) p=$SRV_PAT;; esac
    if alive $n "$p"; then echo "$n: running (pid $(cat "$RUN/$n.pid"))"; else echo "$n: stopped"; fi
  done
}

cmd_reset() {
  stop_pid web "$WEB_PAT" TERM 1
  stop_pid server "$SRV_PAT" TERM 0
  mkdir -p "$RUN" "$LOGS"
  start_pg
  psql_su -d postgres -c "DROP DATABASE IF EXISTS zabbix WITH (FORCE)"
  cmd_start
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
