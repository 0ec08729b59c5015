/**
 * Elasticsearch shipping is configured from the environment only; credentials come from files
 * named by variables (mounted secrets), never from the code or the URL.
 *
 *   ELASTICSEARCH_URL            http(s)://host:9200 (unset: no shipping)
 *   ELASTICSEARCH_INDEX          index name, `%{DATE}` allowed (default telehealth-logs-%{DATE})
 *   ELASTICSEARCH_API_KEY_FILE   file holding an API key, or
 *   ELASTICSEARCH_USERNAME + ELASTICSEARCH_PASSWORD_FILE
 */
import { readFileSync } from 'node:fs';
import type { ElasticsearchTargetOptions } from './elasticsearch-target';

export class LoggingConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'LoggingConfigError';
  }
}

const INDEX = /^[a-z0-9][a-z0-9_.+-]{0,200}(%\{DATE\}[a-z0-9_.+-]{0,40})?$/;

function readSecret(variable: string, path: string): string {
  let value: string;
  try {
    value = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new LoggingConfigError(
      variable,
      `cannot read the file it names (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (value.length === 0) throw new LoggingConfigError(variable, 'the file it names is empty');
  return value;
}

/** Returns undefined when ELASTICSEARCH_URL is not set. Throws LoggingConfigError on bad values. */
export function elasticsearchConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): ElasticsearchTargetOptions | undefined {
  const raw = env.ELASTICSEARCH_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LoggingConfigError('ELASTICSEARCH_URL', 'is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LoggingConfigError('ELASTICSEARCH_URL', 'must be http: or https:');
  }
  if (url.username || url.password) {
    throw new LoggingConfigError(
      'ELASTICSEARCH_URL',
      'must not contain credentials; use ELASTICSEARCH_API_KEY_FILE or ELASTICSEARCH_PASSWORD_FILE',
    );
  }
  const index = env.ELASTICSEARCH_INDEX?.trim() || 'telehealth-logs-%{DATE}';
  if (!INDEX.test(index)) {
    throw new LoggingConfigError(
      'ELASTICSEARCH_INDEX',
      'must be a lowercase Elasticsearch index name (optionally with %{DATE})',
    );
  }
  const options: ElasticsearchTargetOptions = { node: url.toString().replace(/\/$/, ''), index };
  if (env.ELASTICSEARCH_API_KEY_FILE) {
    options.auth = { apiKey: readSecret('ELASTICSEARCH_API_KEY_FILE', env.ELASTICSEARCH_API_KEY_FILE) };
  } else if (env.ELASTICSEARCH_PASSWORD_FILE) {
    const username = env.ELASTICSEARCH_USERNAME?.trim();
    if (!username)
      throw new LoggingConfigError('ELASTICSEARCH_USERNAME', 'is required with ELASTICSEARCH_PASSWORD_FILE');
    options.auth = {
      username,
      password: readSecret('ELASTICSEARCH_PASSWORD_FILE', env.ELASTICSEARCH_PASSWORD_FILE),
    };
  }
  return options;
}
