import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FILE = path.resolve(__dirname, '..', 'BENCHMARKS.md');

const HEADER = `# Benchmarks

Figures from \`npm run bench -- <name>\`, each section rewritten by its benchmark's
last run. Every benchmark also prints its figures as one JSON line, with the ratio to
a baseline measured in the same run.
`;

function machine(): string {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: path.dirname(FILE), encoding: 'utf8' }).trim();
  } catch {
    // not a checkout
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}, commit ${commit}`;
}

/** Prints the result line and replaces the benchmark's section in BENCHMARKS.md. */
export function recordBenchmark(name: string, command: string, figures: Record<string, number | string | boolean>, notes: string[] = []): void {
  const json = JSON.stringify({ bench: name, ...figures });
  const section = [
    `## ${name}`,
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${machine()}`,
    `- command: \`${command}\``,
    ...notes.map((n) => `- ${n}`),
    '',
    '| figure | value |',
    '| --- | --- |',
    ...Object.entries(figures).map(([k, v]) => `| ${k} | ${v} |`),
    '',
    '```json',
    json,
    '```',
    '',
  ].join('\n');
  const current = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER;
  const pattern = new RegExp(`## ${name}\\n[\\s\\S]*?(?=\\n## |$)`);
  const next = pattern.test(current) ? current.replace(pattern, section.trimEnd() + '\n') : `${current.trimEnd()}\n\n${section}`;
  writeFileSync(FILE, next.endsWith('\n') ? next : `${next}\n`);
  console.log(json);
}

/** The p-th percentile (0-100) of a sample, by nearest rank. */
export function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
