// Failure types: the client maps a failure to an error code by its type, so a string that is
// not one of ours (or a prototype key) must not pass for one.
import { describe, expect, it } from 'vitest';
import { failureTypes, isFailureType } from '../../workflows/domain/failures';

describe('isFailureType', () => {
  it.each(['UnknownPlan', 'MailRejected', 'MailProviderUnavailable', 'PromiseRefused', 'PlanClosed'])('knows %s', (type) => {
    expect(isFailureType(type)).toBe(true);
  });

  it.each([undefined, '', 'mailrejected', 'Error', 'toString', 'constructor', '__proto__', 'hasOwnProperty'])('does not know %j', (type) => {
    expect(isFailureType(type)).toBe(false);
  });

  it('names each type by its own key, so the type thrown is the type matched', () => {
    for (const [key, value] of Object.entries(failureTypes)) expect(value).toBe(key);
  });
});
