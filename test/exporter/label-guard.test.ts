import { assertLabelName, compileLabel, isForbiddenLabelName } from '../../exporter/label-guard';

describe('forbidden label names', () => {
  it.each([
    'user',
    'user_id',
    'userId',
    'username',
    'patient',
    'patient_id',
    'patientId',
    'email',
    'email_address',
    'ip',
    'ip_address',
    'client_ip',
    'clientIP',
    'session',
    'session_id',
    'token',
    'access_token',
    'refresh_token',
    'USER',
  ])('refuses %s', (name) => {
    expect(isForbiddenLabelName(name)).toBe(true);
    expect(() => assertLabelName('telehealth_x_total', name)).toThrow(
      expect.objectContaining({
        code: 'TELEMETRY_FORBIDDEN_LABEL',
        message: expect.stringContaining(`"${name}"`),
      }),
    );
  });

  it.each(['method', 'route', 'status_code', 'actor_role', 'outcome', 'event_type', 'dependency', 'reason'])(
    'accepts %s',
    (name) => {
      expect(isForbiddenLabelName(name)).toBe(false);
      expect(() => assertLabelName('telehealth_x_total', name)).not.toThrow();
    },
  );

  it('names the metric and the label in the error', () => {
    expect(() => assertLabelName('telehealth_logins_total', 'patient_id')).toThrow(
      /telehealth_logins_total.*patient_id/,
    );
  });

  it('refuses malformed, reserved and type-owned names', () => {
    expect(() => assertLabelName('m', '1abc')).toThrow(
      expect.objectContaining({ code: 'TELEMETRY_BAD_LABEL_NAME' }),
    );
    expect(() => assertLabelName('m', 'a-b')).toThrow(
      expect.objectContaining({ code: 'TELEMETRY_BAD_LABEL_NAME' }),
    );
    expect(() => assertLabelName('m', '__name')).toThrow(/reserved/);
    expect(() => assertLabelName('m', 'le', ['le'])).toThrow(/reserved/);
  });
});

describe('label value sets', () => {
  it('compiles a closed set and refuses empty, duplicate or oversized values', () => {
    const l = compileLabel('m', 'outcome', ['success', 'failure'], 500);
    expect(l.closed?.has('success')).toBe(true);
    expect(l.closedValues).toEqual(['success', 'failure']);
    expect(() => compileLabel('m', 'outcome', [], 500)).toThrow(/at least one value/);
    expect(() => compileLabel('m', 'outcome', ['a', 'a'], 500)).toThrow(/listed twice/);
    expect(() => compileLabel('m', 'outcome', ['x'.repeat(200)], 500)).toThrow(/at most 128/);
  });

  it('gives an open label the default cap unless it names one, and checks it', () => {
    expect(compileLabel('m', 'job', {}, 500).cap).toBe(500);
    expect(compileLabel('m', 'job', { cap: 3 }, 500).cap).toBe(3);
    expect(() => compileLabel('m', 'job', { cap: 0 }, 500)).toThrow(/cap must be/);
    expect(() => compileLabel('m', 'job', { cap: 1.5 }, 500)).toThrow(/cap must be/);
  });
});
