#!/bin/sh
# PostgreSQL refuses a private key that its server user cannot own with mode 0600, and compose
# bind-mounts secret files with the host's owner and mode. Copy the key (and certificate) from the
# secret mount into a private directory owned by postgres, then hand over to the image's entrypoint
# with TLS on. Runs as root only for the copy; the image's entrypoint drops to the postgres user.
set -eu
tls_dir=/var/lib/postgresql/tls
install -d -m 0700 -o postgres -g postgres "$tls_dir"
install -m 0600 -o postgres -g postgres /run/secrets/postgres_tls_key "$tls_dir/server.key"
install -m 0644 -o postgres -g postgres /run/secrets/postgres_tls_cert "$tls_dir/server.crt"
exec docker-entrypoint.sh postgres \
  -c ssl=on \
  -c ssl_cert_file="$tls_dir/server.crt" \
  -c ssl_key_file="$tls_dir/server.key" \
  -c ssl_min_protocol_version=TLSv1.2 \
  -c password_encryption=scram-sha-256 \
  -c hba_file=/etc/postgresql/pg_hba.conf \
  "$@"
