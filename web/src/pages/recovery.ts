import { get } from '../api';
import { chartNotice, rateBars } from '../charts';
import type { PageContext } from '../context';
import { h, mount } from '../dom';
import { count, HIDDEN, money, NONE, percent } from '../format';
import { isHidden } from '../redaction';
import { card, errorBox, loading, section } from './common';
import type { CurrencyRecovery as Report, StepRecovery as Step } from '../../../domain/dunning-recovery';
import { dunningStepTitle } from '../../../domain/dunning-schedule';
import { DAY_MS } from '../../../domain/durations';

/** As the API sends them: amounts are null where the caller's role may not see them. */
type WithHidden<T, K extends keyof T> = Omit<T, K> & { [P in K]: T[P] | null };
type StepRecovery = WithHidden<Step, 'recoveredAmount'>;
type CurrencyRecovery = Omit<WithHidden<Report, 'failedAmount' | 'recoveredAmount'>, 'perStep'> & { perStep: StepRecovery[] };

const day = (d: Date) => d.toISOString().slice(0, 10);
const stepName = (step: number | null) => (step === null ? 'Before any email' : dunningStepTitle(step));

function duration(hours: number | null): string {
  if (hours === null) return NONE;
  return hours < 48 ? `${hours.toFixed(1)} h` : `${(hours / 24).toFixed(1)} days`;
}

export async function recoveryPage(ctx: PageContext, root: HTMLElement): Promise<void> {
  const to = ctx.query.get('to') ?? day(new Date(Date.now() + DAY_MS));
  const from = ctx.query.get('from') ?? day(new Date(Date.parse(to) - 90 * DAY_MS));
  mount(root, loading());
  let report: { from: string; to: string; currencies: CurrencyRecovery[] };
  try {
    report = await get(`${ctx.apiBase}/dunning/recovery?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`);
  } catch (err) {
    mount(root, errorBox(err));
    return;
  }
  const v = ctx.visibility;
  const fromInput = h('input', { type: 'date', name: 'from', value: from });
  const toInput = h('input', { type: 'date', name: 'to', value: to });
  const range = h('form', { class: 'range' }, h('label', {}, 'From', fromInput), h('label', {}, 'To', toInput), h('button', { type: 'submit' }, 'Show'));
  range.addEventListener('submit', (e) => {
    e.preventDefault();
    ctx.navigate(`${ctx.pageBase}/recovery?from=${fromInput.value}&to=${toInput.value}`);
  });

  const blocks = report.currencies.map((c) => {
    const cur = c.currency;
    const steps = c.perStep;
    return section(
      `Recovery in ${cur.toUpperCase()}`,
      h(
        'div',
        { class: 'kpis' },
        card('Failed', money(c.failedAmount, cur, { hidden: isHidden(v, 'failedAmount', true) }), { testid: `failed-${cur}`, hidden: c.failedAmount === null, sub: `${count(c.cases, { hidden: isHidden(v, 'cases', false) })} invoices` }),
        card('Recovered', money(c.recoveredAmount, cur, { hidden: isHidden(v, 'recoveredAmount', true) }), { testid: `recovered-${cur}`, hidden: c.recoveredAmount === null, sub: `${count(c.recoveredCases, { hidden: isHidden(v, 'recoveredCases', false) })} invoices` }),
        card('Recovery rate', percent(c.recoveryRate, { hidden: isHidden(v, 'recoveryRate', false) }), { sub: `${percent(c.caseRecoveryRate, { hidden: isHidden(v, 'caseRecoveryRate', false) })} of invoices` }),
        card('Median time to recover', isHidden(v, 'medianHoursToRecover', false) && c.medianHoursToRecover === null ? HIDDEN : duration(c.medianHoursToRecover)),
        card('Still running', count(c.running, { hidden: isHidden(v, 'running', false) }), { sub: `${count(c.cancelledCases, { hidden: isHidden(v, 'cancelledCases', false) })} cancelled · ${count(c.exhaustedCases, { hidden: isHidden(v, 'exhaustedCases', false) })} exhausted` }),
      ),
      steps.some((st) => st.rate !== null)
        ? rateBars({
            label: 'Recovery rate per dunning step',
            categories: steps.map((st) => stepName(st.step)),
            rates: steps.map((st) => st.rate),
            titles: steps.map((st) => `${stepName(st.step)}: ${count(st.recovered)} of ${count(st.reached)} recovered (${percent(st.rate)})`),
          })
        : chartNotice('No step has been reached yet.', 'empty'),
      h(
        'table',
        { class: 'data compact' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Step'), h('th', { class: 'num' }, 'Reached'), h('th', { class: 'num' }, 'Recovered'), h('th', { class: 'num' }, 'Rate'), h('th', { class: 'num' }, 'Recovered amount'))),
        h(
          'tbody',
          {},
          steps.map((st) =>
            h(
              'tr',
              {},
              h('td', {}, stepName(st.step)),
              h('td', { class: 'num' }, count(st.reached, { hidden: isHidden(v, 'reached', false) })),
              h('td', { class: 'num' }, count(st.recovered, { hidden: isHidden(v, 'recovered', false) })),
              h('td', { class: 'num' }, percent(st.rate, { hidden: isHidden(v, 'rate', false) })),
              h('td', { class: 'num' }, money(st.recoveredAmount, cur, { hidden: isHidden(v, 'recoveredAmount', true) })),
            ),
          ),
        ),
      ),
    );
  });

  mount(
    root,
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Dunning recovery'), h('p', { class: 'muted' }, 'Invoices whose payment failed in the range, and what the dunning emails got back.')), range),
    blocks.length ? blocks : h('p', { class: 'empty-state' }, 'No failed payments in this range.'),
  );
}
