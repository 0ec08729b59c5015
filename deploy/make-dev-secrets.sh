#!/bin/sh
# Creates the files docker-compose.yml mounts as secrets, under ./secrets/ (gitignored), for a
# development stack. Existing files are kept, so re-running never rotates a secret by surprise.
# Production: put real values in the same files (PagerDuty routing keys from the PagerDuty
# service's Events API v2 integration; certificates from your CA) instead of running this.
set -eu
cd "$(dirname "$0")/.."
dir=secrets
umask 077
mkdir -p "$dir"

random_file() { # name, bytes, encoding (hex|base64)
  [ -s "$dir/$1" ] && return 0
  if [ "$3" = hex ]; then openssl rand -hex "$2"; else openssl rand -base64 "$2" | tr -d '\n=' | tr '+/' '-_'; fi >"$dir/$1.tmp"
  # No trailing newline: some readers take the file content byte for byte.
  tr -d '\n' <"$dir/$1.tmp" >"$dir/$1" && rm -f "$dir/$1.tmp"
  echo "created $dir/$1"
}

random_file postgres_password 24 hex
random_file jwt_secret 48 base64
random_file encryption_key 32 hex
random_file pseudonym_key 48 base64
random_file metrics_token 32 hex
random_file grafana_admin_password 18 base64
random_file elastic_password 18 hex
# Placeholders shaped like routing keys (32 characters): PagerDuty answers 400 to them until real keys
# replace these files, so a development stack never pages anyone.
random_file pagerduty_critical_routing_key 16 hex
random_file pagerduty_warning_routing_key 16 hex

# The standalone collector's source list: the app's API key is stored only as its SHA-256.
random_file collector_api_key 32 hex
random_file collector_hmac_secret 32 hex
if [ ! -s "$dir/collector_sources.json" ]; then
  key_sha=$(printf '%s' "$(cat "$dir/collector_api_key")" | openssl dgst -sha256 -r | cut -d' ' -f1)
  printf '[{"id":"telehealth-app","apiKeySha256":"%s","hmacSecretFile":"/run/secrets/collector_hmac_secret"}]\n' "$key_sha" \
    >"$dir/collector_sources.json"
  echo "created $dir/collector_sources.json"
fi

# A development CA and a server certificate for PostgreSQL, valid for the compose host name.
if [ ! -s "$dir/postgres_tls_server.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=telehealth dev CA" \
    -keyout "$dir/postgres_tls_ca.key" -out "$dir/postgres_tls_ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=postgres" \
    -keyout "$dir/postgres_tls_server.key" -out "$dir/postgres_tls_server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:postgres,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$dir/postgres_tls_server.ext"
  openssl x509 -req -in "$dir/postgres_tls_server.csr" -CA "$dir/postgres_tls_ca.crt" -CAkey "$dir/postgres_tls_ca.key" \
    -CAcreateserial -days 825 -extfile "$dir/postgres_tls_server.ext" -out "$dir/postgres_tls_server.crt" 2>/dev/null
  rm -f "$dir/postgres_tls_server.csr" "$dir/postgres_tls_server.ext" "$dir/postgres_tls_ca.srl"
  echo "created $dir/postgres_tls_ca.crt, $dir/postgres_tls_server.crt and its key"
fi
# Containers run as other users than the one who ran this script: the files must be readable by
# them (the directory itself stays private to this user on the host).
chmod 0644 "$dir"/*
chmod 0700 "$dir"
# The CA key signs nothing inside the stack: it stays private to this user.
chmod 0600 "$dir/postgres_tls_ca.key"
