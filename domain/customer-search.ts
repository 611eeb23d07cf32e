/**
 * Finding customers by a piece of their name. Names are sealed in the mirror
 * (db/customer-pii.ts), so the database cannot match them: the search opens them and
 * matches here, as a person would read them: any case, accents or not ("jose" finds
 * "José"), runs of blanks as one.
 */

/** A name or a search folded for matching: decomposed, marks dropped, lower case, blanks collapsed. */
export function foldName(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Whether `name` contains the (already folded) search. */
export const nameContains = (name: string, folded: string): boolean => folded !== '' && foldName(name).includes(folded);
