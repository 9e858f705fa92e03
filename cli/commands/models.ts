import { parseArgs } from 'node:util';
import { defaultCatalog, LICENCE_NAMES } from '../../shared/catalog';

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('Usage: tunedrop models [--all] [--json]\n  --all   include retired models\n');
    return 0;
  }
  const models = values.all ? defaultCatalog.models : defaultCatalog.supported();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(models, null, 2)}\n`);
    return 0;
  }
  for (const m of models) {
    const note = m.status === 'retired' ? `retired ${m.retiredOn} → ${m.replacement}` : LICENCE_NAMES[m.licence];
    process.stdout.write(`${m.id.padEnd(42)} ${String(m.maxContextLength).padStart(7)}  ${note}\n`);
  }
  return 0;
}
