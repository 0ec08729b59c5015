import { describeApi } from './api-suite';

// The core suite on embedded PostgreSQL (what `npm start` uses on a machine without a server).
describeApi('pglite');
