import { describeApi } from './api-suite';
import { isPostgresAvailable } from '../support/postgres';

// The core suite on the real PostgreSQL (CI sets DATABASE_URL; a local server on 5432 is used too).
let available = false;
beforeAll(async () => {
  available = await isPostgresAvailable();
  if (!available && process.env.DATABASE_URL)
    throw new Error('DATABASE_URL is set but PostgreSQL is not reachable');
});
describeApi('postgres');
