import { get } from '../api';
import { chartNotice, legend, lineChart, stackedBars, type BarSeries } from '../charts';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { count, HIDDEN, longMonth, when, money, monthFromNow, percent, ratio, shortMonth } from '../format';
import { isHidden } from '../redaction';
import { card, customerCell, errorBox, loading, section } from './common';
import { KINDS, type Kind } from '../movement-kinds';
import { movementCells } from '../movements';

interface Series<P> {
  currency: string;
  redacted: boolean;
  from: string;
  to: string;
  points: P[];
}
interface MrrPoint { period: string; mrr: number | null; customers: number | null }
interface ArpaPoint { period: string; arpa: number | null; customers: number }
type MovementsPoint = { period: string; startMrr: number | null; endMrr: number | null; net: number | null; counts: Record<Kind, number | null> | null } & Record<Kind, number | null>;
interface ChurnPoint { period: string; customersAtStart: number | null; churnedCustomers: number | null; customerChurnRate: number | null; grossMrrChurnRate: number | null; netMrrChurnRate: number | null }
interface QuickPoint { period: string; quickRatio: number | null }
interface LtvPoint { period: string; ltv: number | null; arpa: number | null; trailingChurnRate: number | null }
interface GrrPoint { period: string; grr: number | null }
interface NrrPoint { period: string; nrr: number | null }
interface NpsPoint { cohort: string; responses: number; nps: number | null }
interface Movement { customerId: string; name: string | null; email: string | null; at: string; kind: Kind; amount: number | null; mrrBefore: number | null; mrrAfter: number | null }
interface Cohort { cohort: string; customers: number | null; initialMrr: number | null; ages: { age: number; period: string; customers: number | null; mrr: number | null; customerRetention: number | null; mrrRetention: number | null }[] }

const RANGES = [6, 12, 24];
const EXPORTS = ['mrr', 'movements', 'cohorts', 'arpa', 'ltv', 'churn-rate', 'quick-ratio', 'grr', 'nrr'];

const last = <T>(list: T[]): T | undefined => list[list.length - 1];

export async function dashboardPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  const months = RANGES.includes(Number(ctx.query.get('months'))) ? Number(ctx.query.get('months')) : 12;
  const to = monthFromNow(0);
  const from = monthFromNow(-(months - 1));
  const range = `from=${from}&to=${to}`;
  const metric = <P>(name: string) => get<Series<P>>(`${ctx.apiBase}/metrics/${name}?${range}`);
  mount(root, loading());
  let data;
  try {
    const [mrr, arpa, movements, churn, quick, ltv, grr, nrr, cohorts, nps] = await Promise.all([
      metric<MrrPoint>('mrr'),
      metric<ArpaPoint>('arpa'),
      metric<MovementsPoint>('movements'),
      metric<ChurnPoint>('churn-rate'),
      metric<QuickPoint>('quick-ratio'),
      metric<LtvPoint>('ltv'),
      metric<GrrPoint>('grr'),
      metric<NrrPoint>('nrr'),
      metric<Cohort>('cohorts'),
      metric<NpsPoint>('nps'),
    ]);
    data = { mrr, arpa, movements, churn, quick, ltv, grr, nrr, cohorts, nps };
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const { mrr, arpa, movements, churn, quick, ltv, grr, nrr, cohorts, nps } = data;
  const v = ctx.visibility;
  const cur = mrr.currency;
  const hiddenMoney = (field: string) => isHidden(v, field, true);
  const hiddenRatio = (field: string) => isHidden(v, field, false);
  const fmt = (field: string) => (n: number | null | undefined) => money(n, cur, { hidden: hiddenMoney(field) });

  const now = last(mrr.points);
  const prev = mrr.points[mrr.points.length - 2];
  const change = now?.mrr != null && prev?.mrr != null ? now.mrr - prev.mrr : null;
  const move = last(movements.points);
  const period = now?.period ?? to;

  const header = h(
    'div',
    { class: 'page-head' },
    h('div', {}, h('h1', {}, 'MRR dashboard'), h('p', { class: 'muted' }, `${longMonth(from)} to ${longMonth(to)} · ${cur.toUpperCase()} · figures at each month end`)),
    h(
      'div',
      { class: 'segmented', role: 'group', 'aria-label': 'Range' },
      RANGES.map((r) => h('a', { href: `${ctx.pageBase}/dashboard?months=${r}`, class: r === months ? 'active' : '' }, `${r} months`)),
    ),
  );

  const kpis = h(
    'div',
    { class: 'kpis' },
    card('MRR', fmt('mrr')(now?.mrr), { testid: 'kpi-mrr', hidden: now?.mrr === null, sub: change === null ? undefined : `${money(change, cur, { signed: true })} vs ${shortMonth(prev!.period, false)}` }),
    card('Paying customers', count(now?.customers, { hidden: hiddenRatio('customers') }), { testid: 'kpi-customers', hidden: hiddenRatio('customers') }),
    card('ARPA', fmt('arpa')(last(arpa.points)?.arpa), { testid: 'kpi-arpa', hidden: last(arpa.points)?.arpa === null && hiddenMoney('arpa') }),
    card('LTV', fmt('ltv')(last(ltv.points)?.ltv), { testid: 'kpi-ltv', hidden: last(ltv.points)?.ltv === null && hiddenMoney('ltv'), sub: `at ${percent(last(ltv.points)?.trailingChurnRate, { hidden: hiddenRatio('trailingChurnRate') })} avg. monthly churn` }),
    card('GRR', percent(last(grr.points)?.grr, { hidden: hiddenRatio('grr') }), { testid: 'kpi-grr', sub: 'gross revenue retention, month' }),
    card('NRR', percent(last(nrr.points)?.nrr, { hidden: hiddenRatio('nrr') }), { testid: 'kpi-nrr', sub: 'net revenue retention, month' }),
    card('Customer churn', percent(last(churn.points)?.customerChurnRate, { hidden: hiddenRatio('customerChurnRate') }), { testid: 'kpi-churn', sub: `${count(last(churn.points)?.churnedCustomers, { hidden: hiddenRatio('churnedCustomers') })} of ${count(last(churn.points)?.customersAtStart, { hidden: hiddenRatio('customersAtStart') })} customers` }),
    card('Revenue churn', percent(last(churn.points)?.grossMrrChurnRate, { hidden: hiddenRatio('grossMrrChurnRate') }), { testid: 'kpi-revenue-churn', sub: `net ${percent(last(churn.points)?.netMrrChurnRate, { hidden: hiddenRatio('netMrrChurnRate') })}` }),
    card('Quick ratio', ratio(last(quick.points)?.quickRatio, { hidden: hiddenRatio('quickRatio') }), { testid: 'kpi-quick', sub: 'gains / losses' }),
  );

  const thisMonth = section(
    `Movements in ${longMonth(period)}`,
    h(
      'div',
      { class: 'movements' },
      KINDS.map((k) =>
        h(
          'div',
          { class: `movement ${k.key}`, 'data-testid': `movement-${k.key}` },
          h('span', { class: `swatch ${k.key}` }),
          h('div', { class: 'movement-label' }, k.label),
          h('div', { class: `movement-value${move?.[k.key] === null ? ' hidden-figure' : ''}` }, money(move?.[k.key], cur, { hidden: hiddenMoney(k.key), signed: true })),
          h('div', { class: 'kpi-sub' }, `${count(move?.counts?.[k.key], { hidden: hiddenRatio('counts') || hiddenRatio(k.key) })} customer${move?.counts?.[k.key] === 1 ? '' : 's'}`),
        ),
      ),
      h('div', { class: 'movement net' }, h('div', { class: 'movement-label' }, 'Net'), h('div', { class: `movement-value${move?.net === null ? ' hidden-figure' : ''}` }, money(move?.net, cur, { hidden: hiddenMoney('net'), signed: true }))),
    ),
  );

  const periods = mrr.points.map((p) => p.period);
  const mrrValues = mrr.points.map((p) => p.mrr);
  const mrrChart = mrrValues.every((x) => x === null)
    ? chartNotice(hiddenMoney('mrr') ? `MRR is ${HIDDEN.toLowerCase()} for your role (${v.role}).` : 'No MRR in this range yet.', hiddenMoney('mrr') ? 'hidden' : 'empty')
    : lineChart({ label: 'MRR by month', periods, values: mrrValues, format: (n) => money(n, cur), axisFormat: (n) => money(n, cur, { compact: true }), className: 'mrr' });

  const movementsHidden = KINDS.some((k) => hiddenMoney(k.key) && movements.points.every((p) => p[k.key] === null));
  const series: BarSeries[] = KINDS.map((k) => ({ key: k.key, label: k.label, negative: k.negative, values: movements.points.map((p) => p[k.key] ?? 0) }));
  const movementsChart = movementsHidden
    ? chartNotice(`MRR movements are ${HIDDEN.toLowerCase()} for your role (${v.role}); the counts are in the table below.`, 'hidden')
    : stackedBars({ label: 'MRR movements by month', periods: movements.points.map((p) => p.period), series, format: (n) => money(n, cur, { signed: true }), axisFormat: (n) => money(n, cur, { compact: true }) });

  const countsTable = h(
    'table',
    { class: 'data compact' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Month'), KINDS.map((k) => h('th', { class: 'num' }, k.label)), h('th', { class: 'num' }, 'Net MRR'))),
    h(
      'tbody',
      {},
      [...movements.points].reverse().map((p) =>
        h(
          'tr',
          {},
          h('td', {}, longMonth(p.period)),
          KINDS.map((k) => {
            const n = count(p.counts?.[k.key], { hidden: hiddenRatio('counts') || hiddenRatio(k.key) });
            return h('td', { class: 'num', title: `${n} customers` }, money(p[k.key], cur, { hidden: hiddenMoney(k.key), signed: true }), h('span', { class: 'muted small' }, ` · ${n}`));
          }),
          h('td', { class: 'num' }, money(p.net, cur, { hidden: hiddenMoney('net'), signed: true })),
        ),
      ),
    ),
  );

  const exports = h(
    'ul',
    { class: 'exports' },
    EXPORTS.map((m) => h('li', {}, h('a', { href: `${ctx.apiBase}/metrics/${m}?${range}&format=csv`, download: `${m}-${from}-${to}.csv`, 'data-external': 'true' }, `${m}.csv`))),
  );

  mount(
    root,
    header,
    kpis,
    thisMonth,
    section('MRR', mrrChart),
    section('MRR movements', movementsChart, movementsHidden ? null : legend(KINDS), h('details', {}, h('summary', {}, 'Movements by month'), countsTable)),
    await drilldownSection(ctx, cur, movements.points.map((p) => p.period)),
    cohortSection(cohorts, cur, ctx, new Map(nps.points.map((p) => [p.cohort, p]))),
    section('Export', h('p', { class: 'muted' }, 'CSV files of each figure for this range, with the same fields hidden as on this page.'), exports),
  );
}

/** What is behind a month's movements: each customer's change, from the drill-down API. */
async function drilldownSection(ctx: PageContext, cur: string, periods: string[]): Promise<HTMLElement> {
  const body = h('div', {});
  const select = h('select', { name: 'period', 'aria-label': 'Month' }, [...periods].reverse().map((p) => h('option', { value: p }, longMonth(p))));
  const show = async () => {
    mount(body, h('p', { class: 'loading' }, 'Loading…'));
    try {
      const { movements } = await get<{ movements: Movement[] }>(`${ctx.apiBase}/metrics/movements/drilldown?period=${select.value}&limit=200`);
      mount(
        body,
        movements.length
          ? h(
              'table',
              { class: 'data compact' },
              h('thead', {}, h('tr', {}, h('th', {}, 'When'), h('th', {}, 'Customer'), h('th', {}, 'Movement'), h('th', { class: 'num' }, 'Change'), h('th', { class: 'num' }, 'MRR after'))),
              h(
                'tbody',
                {},
                movements.map((m) =>
                  h(
                    'tr',
                    {},
                    h('td', { class: 'nowrap' }, when(m.at)),
                    h('td', { class: 'customer' }, customerCell(ctx, m)),
                    ...movementCells(m, cur, ctx.visibility),
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, `No movements in ${longMonth(select.value)}.`),
      );
    } catch (err) {
      mount(body, errorBox(err));
    }
  };
  select.addEventListener('change', () => void show());
  await show();
  return section('Who moved', h('div', { class: 'range' }, h('label', {}, 'Month', select)), h('div', { class: 'drilldown' }, body));
}

function cohortSection(cohorts: Series<Cohort>, cur: string, ctx: PageContext, nps: Map<string, NpsPoint>): HTMLElement {
  const v = ctx.visibility;
  const hiddenRatio = (field: string) => isHidden(v, field, false);
  const body = h('div', {});
  const modes = [
    { key: 'customerRetention' as const, label: 'Customer retention' },
    { key: 'mrrRetention' as const, label: 'Net MRR retention' },
  ];
  let mode: 'customerRetention' | 'mrrRetention' = 'customerRetention';
  const maxAge = Math.max(0, ...cohorts.points.map((c) => c.ages.length - 1));
  const draw = () => {
    const hidden = isHidden(v, mode, false);
    const table = h(
      'table',
      { class: 'heatmap' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Cohort'), h('th', { class: 'num' }, 'Customers'), h('th', { class: 'num' }, 'Initial MRR'), h('th', { class: 'num', title: 'Net promoter score of the cohort (latest answer of each customer)' }, 'NPS'), Array.from({ length: maxAge + 1 }, (_, i) => h('th', { class: 'num' }, `M${i}`)))),
      h(
        'tbody',
        {},
        [...cohorts.points].reverse().map((c) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, longMonth(c.cohort)),
            h('td', { class: 'num' }, count(c.customers, { hidden: hiddenRatio('customers') })),
            h('td', { class: 'num' }, money(c.initialMrr, cur, { hidden: isHidden(v, 'initialMrr', true) })),
            h('td', { class: 'num', title: `${nps.get(c.cohort)?.responses ?? 0} answers` }, nps.get(c.cohort)?.nps == null ? '—' : String(Math.round(nps.get(c.cohort)!.nps!))),
            Array.from({ length: maxAge + 1 }, (_, i) => {
              const a = c.ages[i];
              if (!a) return h('td', { class: 'empty' });
              const value = a[mode];
              const shade = value === null ? 0 : Math.max(0, Math.min(1, value));
              const mrrText = a.mrr === null ? '' : `, MRR ${money(a.mrr, cur)}`;
              return h(
                'td',
                { class: `cell${value === null ? ' none' : shade > 0.55 ? ' dark' : ''}`, style: value === null ? undefined : `--v:${shade.toFixed(3)}`, title: `${longMonth(c.cohort)} cohort, ${shortMonth(a.period, true)}: ${count(a.customers, { hidden: hiddenRatio('customers') })} of ${count(c.customers, { hidden: hiddenRatio('customers') })} customers${mrrText}` },
                percent(value, { hidden, digits: 0 }),
              );
            }),
          ),
        ),
      ),
    );
    mount(
      body,
      h(
        'div',
        { class: 'segmented', role: 'group', 'aria-label': 'Retention' },
        modes.map((m) =>
          h(
            'button',
            {
              type: 'button',
              class: m.key === mode ? 'active' : '',
              onclick: () => {
                mode = m.key;
                draw();
              },
            },
            m.label,
          ),
        ),
      ),
      cohorts.points.length ? h('div', { class: 'scroll' }, table) : h('p', { class: 'muted' }, 'No cohorts started in this range.'),
    );
  };
  draw();
  return section('Cohort retention', h('p', { class: 'muted' }, 'Customers grouped by the month of their first payment; each cell is what is left of the cohort at that month end.'), body);
}
