#!/bin/sh
# Compose and Kubernetes hand secrets over as files (/run/secrets/...), never as values in the
# compose file. For every NAME__FILE variable (double underscore, Grafana's convention, so that a
# program's own *_FILE path settings such as METRICS_BEARER_TOKEN_FILE are left alone), export NAME
# with the file's content, then exec the command. Values never reach a command line or a log.
set -eu
for name in $(env | sed -n 's/^\([A-Z][A-Z0-9_]*\)__FILE=.*/\1/p'); do
  file=$(printenv "${name}__FILE")
  if [ ! -r "$file" ]; then
    echo "with-secret-files: ${name}__FILE names a file that cannot be read" >&2
    exit 64
  fi
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}__FILE"
done
exec "$@"
