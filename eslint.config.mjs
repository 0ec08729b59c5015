// Import boundaries are the architecture: checked here so that a wrong import fails `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      'coverage/**',
      'grafana/**',
      '.data/**',
      '.tmp*/**',
      '.scratch*/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['exporter/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(collector|alerts|dashboards|app)(/.*)?$',
              message: 'exporter/ depends on nothing else of ours.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['collector/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(alerts|dashboards|app)(/.*)?$',
              message: 'collector/ may use exporter/ only.',
            },
            { regex: '^(\\.\\./)+exporter/.+$', message: 'Use the public exporter/ index.' },
          ],
        },
      ],
    },
  },
  {
    files: ['alerts/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+(app|dashboards)(/.*)?$', message: 'alerts/ reads only metric names.' },
            {
              regex: '^(\\.\\./)+(exporter|collector)(/(?!metric-names$).*)?$',
              message: 'alerts/ reads only exporter/metric-names and collector/metric-names.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['dashboards/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+app(/.*)?$', message: 'Nothing imports app/.' },
            {
              regex: '^(\\.\\./)+(exporter|collector)(/(?!metric-names$).*)?$',
              message: 'dashboards/ reads only metric names.',
            },
            {
              regex: '^(\\.\\./)+alerts(/(?!thresholds$|metric-names$).*)?$',
              message: 'dashboards/ reads only alerts/thresholds and alerts/metric-names.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['kubernetes/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(app|exporter|collector)(/.*)?$',
              message: 'kubernetes/ renders what alerts/ and dashboards/ generate, nothing else.',
            },
            {
              regex: '^(\\.\\./)+(alerts|dashboards)/(?!metric-names$).+$',
              message: 'Import the public alerts/ or dashboards/ index.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['app/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(dashboards)(/.*)?$',
              message: 'app/ uses exporter/, collector/ (and the alerts/ pager) only.',
            },
            {
              regex: '^(\\.\\./)+(exporter|collector|alerts)/.+$',
              message: 'Import the public index of a folder.',
            },
          ],
        },
      ],
    },
  },
);
