// Money without a server: integer minor units inside, the currency's digits at the edges.
// A wrong digit count shows as a bill 100 times too large or too small, so each case names one.
import { describe, expect, it } from 'vitest';
import { currencyDigits, formatMinor, formatMoney, parseMoney, toMajorUnits } from '../../workflows/domain/money';

const NBSP = '\u00a0';

describe('currencyDigits', () => {
  it.each([
    ['USD', 2],
    ['usd', 2], // CSV and CLI input may be lower case
    ['EUR', 2],
    ['JPY', 0],
    ['BHD', 3],
  ])('%s has %i minor-unit digits', (code, digits) => expect(currencyDigits(code)).toBe(digits));

  it.each(['XYZ', 'EURO', ''])('%j is unknown', (code) => expect(currencyDigits(code)).toBeUndefined());
});

describe('parseMoney', () => {
  it.each([
    ['120.50', 'USD', 12_050],
    ['120.5', 'USD', 12_050],
    ['120', 'USD', 12_000],
    [' 120.50 ', 'USD', 12_050], // pasted with spaces
    ['007.05', 'USD', 705],
    ['0', 'USD', 0],
    ['1500', 'JPY', 1_500], // no minor unit: yen are whole
    ['1.234', 'BHD', 1_234], // three digits: fils
    ['1.5', 'BHD', 1_500],
    ['12.34', 'usd', 1_234],
    ['10000000000000.00', 'USD', 1e15], // the largest amount accepted, exactly
  ])('%j %s is %i minor units', (text, currency, minor) => {
    expect(parseMoney(text, currency)).toEqual({ ok: true, minor });
  });

  it.each([
    ['-5', 'USD', '"-5" is negative'],
    [' -5.00', 'USD', '" -5.00" is negative'],
    ['1e3', 'USD', '"1e3" is not a decimal number like 120.50'],
    ['1,000.00', 'USD', '"1,000.00" is not a decimal number like 120.50'],
    ['1.000,50', 'EUR', '"1.000,50" is not a decimal number like 120.50'],
    ['$5', 'USD', '"$5" is not a decimal number like 120.50'],
    ['+5', 'USD', '"+5" is not a decimal number like 120.50'],
    ['.5', 'USD', '".5" is not a decimal number like 120.50'],
    ['5.', 'USD', '"5." is not a decimal number like 120.50'],
    ['', 'USD', '"" is not a decimal number like 120.50'],
    ['12.345', 'USD', '"12.345" has more than 2 decimal places for USD'],
    ['12.345', 'usd', '"12.345" has more than 2 decimal places for USD'],
    ['100.5', 'JPY', '"100.5" has more than 0 decimal places for JPY'],
    ['100.0', 'JPY', '"100.0" has more than 0 decimal places for JPY'],
    ['1.2345', 'BHD', '"1.2345" has more than 3 decimal places for BHD'],
    ['10000000000000.01', 'USD', '"10000000000000.01" is too large'],
    ['9007199254740993', 'JPY', '"9007199254740993" is too large'], // beyond 2^53: would lose the last digit
    ['99999999999999999999', 'USD', '"99999999999999999999" is too large'],
    ['10', 'XYZ', 'has an unknown currency "XYZ"'],
  ])('refuses %j %s: %s', (text, currency, reason) => {
    expect(parseMoney(text, currency)).toEqual({ ok: false, reason });
  });
});

describe('formatMinor (the workflow’s own messages: no locale data)', () => {
  it.each([
    [150_050, 'EUR', 2, '1500.50 EUR'],
    [5, 'USD', 2, '0.05 USD'],
    [150_050, 'JPY', 0, '150050 JPY'],
    [1_234_567, 'BHD', 3, '1234.567 BHD'],
    [12_050, 'USD', undefined, '120.50 USD'], // unknown digits fall back to 2
  ])('%i %s (%s digits) is %j', (minor, currency, digits, text) => {
    expect(formatMinor(minor, currency, digits)).toBe(text);
  });
});

describe('formatMoney (emails and CLI: the account locale)', () => {
  it('writes the amount as each locale does', () => {
    expect(formatMoney(150_050, 'USD', 'en-US')).toBe('$1,500.50');
    // German puts the comma for decimals and the euro sign after a no-break space.
    expect(formatMoney(150_050, 'EUR', 'de-DE')).toBe(`1.500,50${NBSP}€`);
    // Yen have no minor unit: 150050 minor units are ¥150,050, not ¥1,500.50 (ICU writes the full-width sign in ja-JP).
    expect(formatMoney(150_050, 'JPY', 'ja-JP')).toBe('￥150,050');
    expect(formatMoney(1_234_567, 'BHD', 'en-US')).toBe(`BHD${NBSP}1,234.567`);
  });
});

describe('toMajorUnits', () => {
  it.each([
    [12_050, 2, 120.5],
    [500, 0, 500],
    [1_234, 3, 1.234],
    [12_050, undefined, 120.5],
  ])('%i minor units with %s digits is %d', (minor, digits, major) => expect(toMajorUnits(minor, digits)).toBe(major));
});
