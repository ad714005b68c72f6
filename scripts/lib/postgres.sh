# PostgreSQL clusters for the stack and the tests, from Debian's packages.
#
# PostgreSQL refuses to run as root: as root, a cluster's folder belongs to the
# `postgres` user and its programs run through runuser. Clusters listen on a Unix
# socket in their own folder only (no TCP port to collide on) and trust local
# connections, so the folder and the socket are the owner's alone (0700; root
# passes anyway).
#
#   postgres_bin                     prints the server's bin folder (installs postgresql if missing)
#   postgres_start FOLDER [OPTIONS]  initdb if needed, then start; socket in FOLDER/run
#   postgres_stop FOLDER             stop (fast), if running
#   postgres_url FOLDER DATABASE     the postgres:// URL of DATABASE, created if missing
#   postgres_rename_database FOLDER FROM TO   renames FROM to TO when only FROM exists

postgres_bin() {
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    ensure_system_packages postgresql >&2
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  fi
  [ -x "$bin/initdb" ] || { echo "PostgreSQL's server programs are missing after installing postgresql" >&2; return 1; }
  echo "$bin"
}

# Runs a PostgreSQL program as the cluster's owner.
postgres_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

postgres_start() {
  local folder="$1"; shift
  local bin; bin="$(postgres_bin)"
  mkdir -p "$folder/run"
  # Trust authentication: only the cluster's owner (and root) may reach the socket.
  chmod 700 "$folder" "$folder/run"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$folder"
    if ! runuser -u postgres -- test -w "$folder"; then
      echo "the postgres user cannot write $folder (a folder above it is closed to other users); set HITL_HOME to a folder it can reach, such as /var/lib/hitl" >&2
      return 1
    fi
  fi
  if [ ! -f "$folder/data/PG_VERSION" ]; then
    postgres_as_owner "$bin/initdb" -D "$folder/data" -U postgres --auth=trust -E UTF8 --locale=C >"$folder/initdb.log" 2>&1 \
      || { cat "$folder/initdb.log" >&2; return 1; }
  fi
  if postgres_as_owner "$bin/pg_ctl" -D "$folder/data" status >/dev/null 2>&1; then return 0; fi
  postgres_as_owner "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w -t 60 start \
    -o "-k $folder/run -c listen_addresses='' -c unix_socket_permissions=0700 $*" >/dev/null \
    || { tail -20 "$folder/server.log" >&2; return 1; }
}

postgres_stop() {
  local folder="$1"
  [ -f "$folder/data/postmaster.pid" ] || return 0
  local bin; bin="$(postgres_bin)"
  postgres_as_owner "$bin/pg_ctl" -D "$folder/data" -m fast -w stop >/dev/null 2>&1 || true
}

# Renames database FROM to TO when FROM exists and TO does not (nobody connected).
postgres_rename_database() {
  local folder="$1" from="$2" to="$3"
  local bin; bin="$(postgres_bin)"
  local names; names="$("$bin/psql" -h "$folder/run" -U postgres -Atc "SELECT datname FROM pg_database" postgres)"
  if grep -qx "$from" <<<"$names" && ! grep -qx "$to" <<<"$names"; then
    "$bin/psql" -h "$folder/run" -U postgres -qc "ALTER DATABASE $from RENAME TO $to" postgres
  fi
}

postgres_url() {
  local folder="$1" database="$2"
  local bin; bin="$(postgres_bin)"
  if ! "$bin/psql" -h "$folder/run" -U postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$database'" postgres | grep -q 1; then
    "$bin/createdb" -h "$folder/run" -U postgres "$database"
  fi
  echo "postgres://postgres@/$database?host=$folder/run"
}
