import { describe, expect, it } from 'vitest';
import { kafkaUuidText } from '../../../src/kafka/admin.js';

describe('kafkaUuidText', () => {
  // Expected texts printed by Kafka's own org.apache.kafka.common.Uuid#toString (kafka-clients 4.3.1) for the same bits.
  it('prints a topic id as Kafka does (URL-safe base64, unpadded), negative halves included', () => {
    expect(kafkaUuidText(-1423631238087490010n, -8511870263065708502n)).toBe('7D4-7oKlRiaJ38MX88H4Kg');
    expect(kafkaUuidText(0x0123456789abcdefn, 0x7edcba9876543210n)).toBe('ASNFZ4mrze9-3LqYdlQyEA');
  });
});
