# Hosts for the multi-host test, made on this machine: network namespaces joined by
# a bridge (in a namespace of its own), each with one veth link `eth0` and an address
# of its own; nothing leaves the machine and nothing touches its own interfaces.
# Needs root (or CAP_NET_ADMIN) and iproute2.
#
#   hosts_make PREFIX NAME=ADDRESS ...   makes PREFIX-net (the bridge) and a namespace PREFIX-NAME per host
#   hosts_remove PREFIX NAME ...         kills whatever runs in them, then deletes them
#   hosts_remove_stale                   removes the hosts of runs that died without cleaning up
#                                        (namespaces h<pid>-… whose pid is gone)
#   hosts_postgres PREFIX-NAME ADDRESS FOLDER
#                                        a PostgreSQL cluster in FOLDER serving ADDRESS:5432 from that
#                                        namespace, TLS only (a certificate of its own, FOLDER/server.crt)

hosts_make() {
  local prefix="$1"; shift
  ip netns add "$prefix-net"
  ip -n "$prefix-net" link set lo up
  ip -n "$prefix-net" link add br0 type bridge
  ip -n "$prefix-net" link set br0 up
  local spec name address
  for spec in "$@"; do
    name="${spec%%=*}"; address="${spec#*=}"
    ip netns add "$prefix-$name"
    ip -n "$prefix-$name" link set lo up
    # The bridge's end is called PREFIX-NAME (at most 15 characters), the host's end eth0.
    ip link add "$prefix-$name" type veth peer name eth0 netns "$prefix-$name"
    ip link set "$prefix-$name" netns "$prefix-net"
    ip -n "$prefix-net" link set "$prefix-$name" master br0 up
    ip -n "$prefix-$name" addr add "$address/24" dev eth0
    ip -n "$prefix-$name" link set eth0 up
  done
}

hosts_remove() {
  local prefix="$1"; shift
  local name
  for name in "$@" net; do
    ip netns pids "$prefix-$name" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$prefix-$name" 2>/dev/null || true
  done
}

hosts_remove_stale() {
  local namespace pid
  for namespace in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^h[0-9]+-(net|db|a|b|c)$' || true); do
    pid="${namespace%%-*}"; pid="${pid#h}"
    if ! kill -0 "$pid" 2>/dev/null; then
      ip netns pids "$namespace" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$namespace" 2>/dev/null || true
      echo "removed the stale host $namespace (its run $pid is gone)" >&2
    fi
  done
}

hosts_postgres() {
  local namespace="$1" address="$2" folder="$3"
  mkdir -p "$folder"
  # A certificate of the server's own, for its address: clients verify it (sslrootcert).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$address" \
    -addext "subjectAltName=IP:$address" -keyout "$folder/server.key" -out "$folder/server.crt" 2>/dev/null
  chmod 600 "$folder/server.key"
  # The cluster is made (initdb) and started inside the namespace, so it binds there.
  ip netns exec "$namespace" bash -c "
    set -e
    source '$PWD/scripts/lib/prerequisites.sh'
    source '$PWD/scripts/lib/postgres.sh'
    bin=\"\$(postgres_bin)\"
    mkdir -p '$folder/run' && chmod 700 '$folder' '$folder/run'
    chown -R postgres:postgres '$folder'
    runuser -u postgres -- \"\$bin/initdb\" -D '$folder/data' -U postgres --auth=trust -E UTF8 --locale=C >'$folder/initdb.log' 2>&1
    # Only the test's own hosts can reach the address, and only over TLS.
    echo 'hostssl all all ${address%.*}.0/24 trust' >>'$folder/data/pg_hba.conf'
    runuser -u postgres -- \"\$bin/pg_ctl\" -D '$folder/data' -l '$folder/server.log' -w -t 60 start \
      -o \"-k $folder/run -c listen_addresses=$address -c unix_socket_permissions=0700 -c max_connections=300 -c ssl=on -c ssl_cert_file=$folder/server.crt -c ssl_key_file=$folder/server.key\" >/dev/null
    runuser -u postgres -- \"\$bin/createdb\" -h '$folder/run' -U postgres hitl
  "
}
