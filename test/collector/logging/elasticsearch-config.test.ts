import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { elasticsearchConfigFromEnv, LoggingConfigError } from '../../../collector/logging';

describe('elasticsearchConfigFromEnv', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'es-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('no ELASTICSEARCH_URL: no shipping', () => {
    expect(elasticsearchConfigFromEnv({})).toBeUndefined();
  });

  test('URL, index and an API key read from a file', () => {
    const keyFile = path.join(dir, 'api-key');
    writeFileSync(keyFile, 'generated-dev-key-value\n');
    expect(
      elasticsearchConfigFromEnv({
        ELASTICSEARCH_URL: 'http://127.0.0.1:9200/',
        ELASTICSEARCH_INDEX: 'app-logs-%{DATE}',
        ELASTICSEARCH_API_KEY_FILE: keyFile,
      }),
    ).toEqual({
      node: 'http://127.0.0.1:9200',
      index: 'app-logs-%{DATE}',
      auth: { apiKey: 'generated-dev-key-value' },
    });
  });

  test('username with a password file', () => {
    const pwFile = path.join(dir, 'pw');
    writeFileSync(pwFile, 'pw-from-file');
    expect(
      elasticsearchConfigFromEnv({
        ELASTICSEARCH_URL: 'https://127.0.0.1:9200',
        ELASTICSEARCH_USERNAME: 'shipper',
        ELASTICSEARCH_PASSWORD_FILE: pwFile,
      })?.auth,
    ).toEqual({ username: 'shipper', password: 'pw-from-file' });
  });

  test.each([
    [{ ELASTICSEARCH_URL: 'not a url' }, 'ELASTICSEARCH_URL', /not a URL/],
    [{ ELASTICSEARCH_URL: 'ftp://127.0.0.1' }, 'ELASTICSEARCH_URL', /http/],
    [{ ELASTICSEARCH_URL: 'http://user:secret-in-url@127.0.0.1:9200' }, 'ELASTICSEARCH_URL', /credentials/],
    [
      { ELASTICSEARCH_URL: 'http://127.0.0.1:9200', ELASTICSEARCH_INDEX: 'Bad Index' },
      'ELASTICSEARCH_INDEX',
      /index name/,
    ],
    [
      { ELASTICSEARCH_URL: 'http://127.0.0.1:9200', ELASTICSEARCH_API_KEY_FILE: '/nonexistent/key' },
      'ELASTICSEARCH_API_KEY_FILE',
      /ENOENT/,
    ],
    [
      { ELASTICSEARCH_URL: 'http://127.0.0.1:9200', ELASTICSEARCH_PASSWORD_FILE: '/nonexistent/pw' },
      'ELASTICSEARCH_USERNAME',
      /required/,
    ],
  ])('rejects %j naming the variable', (env, variable, reason) => {
    let error: unknown;
    try {
      elasticsearchConfigFromEnv(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LoggingConfigError);
    expect((error as LoggingConfigError).variable).toBe(variable);
    expect((error as Error).message).toMatch(reason);
    // Never echo a secret back.
    expect((error as Error).message).not.toContain('secret-in-url');
  });
});
