/**
 * Finding customers by a piece of their name. Names are sealed in the mirror
 * (db/customer-pii.ts), so the database cannot match them: the search opens them and
 * matches here, as a person would read them: any case, accents or not ("jose" finds
 * "José"), runs of blanks as one.
 */

/** Letters that do not decompose into a base letter and a mark, written as a person without them would. */
const PLAIN: Record<string, string> = { ø: 'o', ł: 'l', đ: 'd', ð: 'd', ß: 'ss', æ: 'ae', œ: 'oe', þ: 'th', ı: 'i' };

/** A name or a search folded for matching: decomposed, marks dropped, lower case, blanks collapsed ("Łódź" → "lodz"). */
export function foldName(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[øłđðßæœþı]/g, (c) => PLAIN[c] ?? c)
    .replace(/\s+/g, ' ')
    .trim();
}

/** Whether `name` contains the (already folded) search. */
export const nameContains = (name: string, folded: string): boolean => folded !== '' && foldName(name).includes(folded);
