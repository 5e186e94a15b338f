#!/usr/bin/env bash
# The whole WARD FLUX test suite, on a fresh Debian 12 machine or an already prepared one.
#
# 1. installs the real peers the tests talk to (Debian packages), only those missing;
# 2. starts PostgreSQL if it is not running, and the Zabbix 6.0 test server
#    (scripts/zabbix-rig.sh; the tests start snmpd, snmpsim and VictoriaMetrics themselves,
#    on free loopback ports, and stop them);
# 3. runs every test with CI=true, so a missing peer fails instead of skipping;
# 4. runs the API suite a second time against PostgreSQL.
# Idempotent: a second run installs and starts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[test.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

PKGS="postgresql snmpd snmp snmpsim victoria-metrics fping nftables iproute2 iputils-ping chromium chromium-driver
      prometheus-snmp-exporter curl procps python3 python3-venv python3-cryptography python3-aiosmtpd openssl
      make gcc systemd"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    log "installing:$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
# The OpenAPI validator the API suite runs on the served document: Debian's package when the
# archive has one, else PyPI's openapi-spec-validator in a virtualenv under target/.
if ! command -v openapi-spec-validator >/dev/null && [ ! -x target/openapi-venv/bin/openapi-spec-validator ]; then
    if apt-cache policy python3-openapi-spec-validator 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        log "installing python3-openapi-spec-validator"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends python3-openapi-spec-validator
    else
        log "installing openapi-spec-validator into target/openapi-venv"
        python3 -m venv target/openapi-venv
        target/openapi-venv/bin/pip install -q openapi-spec-validator==0.9.0
    fi
fi
# Debian starts snmpd as a system service on install when systemd runs; the tests use their own.
command -v cargo >/dev/null || { log "cargo not found: install Rust >= 1.90 with rustup (https://rustup.rs)"; exit 1; }

# PostgreSQL: the Debian cluster, started if needed (trust auth on loopback for the tests).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    ver=$(ls /etc/postgresql | sort -V | tail -n1)
    conf=/etc/postgresql/$ver/main/pg_hba.conf
    if ! $SUDO grep -q "wardflux-tests" "$conf"; then
        log "allowing trust auth on loopback for user postgres in $conf"
        $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust # wardflux-tests\nlocal all postgres trust # wardflux-tests' "$conf"
    fi
    log "starting PostgreSQL $ver"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.1; done
    pg_isready -h 127.0.0.1 -p 5432
fi

# The real Zabbix 6.0 (server, frontend API, its own PostgreSQL on 127.0.0.1:55432) the Zabbix
# tests share: installed idempotently and started once here; its endpoints exported
# (ZABBIX_API_URL, ZABBIX_USER, ZABBIX_PASSWORD, ZABBIX_TRAPPER, ZABBIX_DB).
log "starting the Zabbix test server (scripts/zabbix-rig.sh)"
while IFS='=' read -r name value; do
    case "$name" in ZABBIX_*) export "$name=$value" ;; esac
done < <($SUDO scripts/zabbix-rig.sh start)
[ -n "${ZABBIX_API_URL:-}" ] || { log "scripts/zabbix-rig.sh start printed no ZABBIX_API_URL"; exit 1; }

export CI=true
export RUST_BACKTRACE=1
log "cargo test (SQLite, embedded metrics, real peers)"
cargo test --workspace --no-fail-fast
log "the API suite again, against PostgreSQL"
# Selected as part of the workspace, not with `-p wardflux-api`: `-p` resolves the features of
# that package's dependency tree alone, which differ from the workspace's (tokio, hyper, sqlx
# ... were rebuilt, 48 s). `--exclude wardflux-snmp` skips that crate's own `tests/api.rs`.
WARDFLUX_TEST_DATABASE=postgres cargo test --workspace --exclude wardflux-snmp --test api
log "all tests passed"
