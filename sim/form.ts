/**
 * Parses Stripe's form encoding (what stripe-node sends in query strings and
 * bodies): `a=1&b[c]=2&expand[0]=x&expand[]=y&created[gte]=3`.
 */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type Form = { [key: string]: FormValue };

export function parseForm(text: string): Form {
  const out: Form = {};
  if (!text) return out;
  for (const part of text.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const rawKey = decode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : decode(part.slice(eq + 1));
    const m = /^([^[\]]+)((?:\[[^\]]*\])*)$/.exec(rawKey);
    if (!m) {
      out[rawKey] = value;
      continue;
    }
    const head = m[1] as string;
    const path = [...(m[2] ?? '').matchAll(/\[([^\]]*)\]/g)].map((x) => x[1] as string);
    assign(out, head, path, value);
  }
  return out;
}

function assign(target: Form, key: string, path: string[], value: string): void {
  if (path.length === 0) {
    target[key] = value;
    return;
  }
  const [next, ...rest] = path as [string, ...string[]];
  const isIndex = next === '' || /^\d+$/.test(next);
  let child = target[key];
  if (isIndex) {
    if (!Array.isArray(child)) target[key] = child = [];
    const arr = child;
    if (rest.length === 0) {
      arr.push(value);
    } else {
      const idx = next === '' ? arr.length : Number(next);
      let el = arr[idx];
      if (typeof el !== 'object' || el === null || Array.isArray(el)) arr[idx] = el = {};
      const [k2, ...r2] = rest as [string, ...string[]];
      assign(el, k2, r2, value);
    }
    return;
  }
  if (typeof child !== 'object' || child === null || Array.isArray(child)) target[key] = child = {};
  assign(child, next, rest, value);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
