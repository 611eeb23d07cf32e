import { h } from './dom';
import { money } from './format';
import { KINDS } from './movement-kinds';
import { isHidden, type Visibility } from './redaction';

/**
 * One movement's cells as the tables show it (the dashboard's movers, a customer's
 * MRR history): its kind with its colour, the change, and the MRR after, each amount
 * Hidden as the reader's visibility says.
 */
export function movementCells(m: { kind: string; amount: number | null; mrrAfter: number | null }, currency: string, v: Visibility): HTMLElement[] {
  return [
    h('td', {}, h('span', { class: `swatch ${m.kind}` }), ` ${KINDS.find((k) => k.key === m.kind)?.label ?? m.kind}`),
    h('td', { class: 'num' }, money(m.amount, currency, { hidden: isHidden(v, 'amount', true), signed: true })),
    h('td', { class: 'num' }, money(m.mrrAfter, currency, { hidden: isHidden(v, 'mrrAfter', true) })),
  ];
}

