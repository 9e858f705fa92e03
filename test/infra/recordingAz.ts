import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A recording stand-in for the Azure CLI, put first on PATH for the hook tests. It is not Azure:
 * it records every call (arguments and the exit status it gave) and answers from a script of
 * rules, each a command prefix (and, for `az rest`, a URL fragment) with a sequence of answers
 * (exit code, stdout, stderr; the last one repeats). A call no rule matches fails with exit 2,
 * as the real CLI does for a command it does not know, so an unexpected call cannot pass quietly.
 * The answers are what the real CLI prints for the `--query`/`--output` the hook passes; the tests
 * check those arguments too.
 */
export interface AzAnswer {
  exit?: number;
  stdout?: string;
  stderr?: string;
}

export interface AzRule {
  /** Leading arguments, space-separated, e.g. `functionapp keys list`. */
  command: string;
  /** For `az rest`: a fragment the --url must contain. */
  url?: string;
  answers: AzAnswer[];
}

export interface AzCall {
  args: string[];
  exit: number;
}

// POSIX sh, not node: the hooks make dozens of calls per run and node's start-up would dominate.
// A scenario is compiled to files: `rules` (index, command, url fragment per line) and per rule
// its answers (<n>.exit, <n>.out, <n>.err), their count and how many were used. Each call is
// logged as its arguments and its exit status, separated by \x1f, one call per line.
const FAKE_AZ = `#!/bin/sh
dir=$FAKE_AZ_SCENARIO
for arg in "$@"; do printf '%s\\037' "$arg"; done >> "$FAKE_AZ_LOG"
args="$*"
url=''
previous=''
for arg in "$@"; do
  if [ "$previous" = --url ]; then url=$arg; fi
  previous=$arg
done
match=''
tab=$(printf '\\t')
while IFS="$tab" read -r index command fragment; do
  case "$args " in "$command "*) ;; *) continue ;; esac
  if [ -n "$fragment" ]; then
    case "$url" in *"$fragment"*) ;; *) continue ;; esac
  fi
  match=$index
  break
done < "$dir/rules"
if [ -z "$match" ]; then
  status=2
  printf 'ERROR: fake az has no scripted answer for: az %s\\n' "$args" >&2
else
  rule="$dir/rule-$match"
  used=$(cat "$rule/used")
  count=$(cat "$rule/count")
  answer=$used
  if [ "$answer" -ge "$count" ]; then answer=$((count - 1)); fi
  echo $((used + 1)) > "$rule/used"
  status=$(cat "$rule/$answer.exit")
  cat "$rule/$answer.out"
  cat "$rule/$answer.err" >&2
fi
printf '%s\\n' "$status" >> "$FAKE_AZ_LOG"
exit "$status"
`;

function compileScenario(dir: string, rules: AzRule[]) {
  mkdirSync(dir, { recursive: true });
  const lines = rules.map((rule, index) => {
    if (/[\t\n]/.test(rule.command + (rule.url ?? '')))
      throw new Error('rule command/url may not contain tabs or newlines');
    const ruleDir = path.join(dir, `rule-${index}`);
    mkdirSync(ruleDir);
    writeFileSync(path.join(ruleDir, 'count'), String(rule.answers.length));
    writeFileSync(path.join(ruleDir, 'used'), '0');
    rule.answers.forEach((answer, n) => {
      const line = (text?: string) => (text ? (text.endsWith('\n') ? text : `${text}\n`) : '');
      writeFileSync(path.join(ruleDir, `${n}.exit`), String(answer.exit ?? 0));
      writeFileSync(path.join(ruleDir, `${n}.out`), line(answer.stdout));
      writeFileSync(path.join(ruleDir, `${n}.err`), line(answer.stderr));
    });
    return `${index}\t${rule.command}\t${rule.url ?? ''}\n`;
  });
  writeFileSync(path.join(dir, 'rules'), lines.join(''));
}

export class RecordingAz {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'tunedrop-az-'));
  private run = 0;

  constructor() {
    const az = path.join(this.dir, 'az');
    writeFileSync(az, FAKE_AZ);
    chmodSync(az, 0o755);
  }

  /** Runs a hook script with `sh` and this stand-in first on PATH. */
  runHook(script: string, env: Record<string, string>, rules: AzRule[]) {
    this.run += 1;
    const scenario = path.join(this.dir, `scenario-${this.run}`);
    const log = path.join(this.dir, `calls-${this.run}.log`);
    compileScenario(scenario, rules);
    writeFileSync(log, '');
    const result = spawnSync('sh', [script], {
      env: { PATH: `${this.dir}:${process.env.PATH}`, FAKE_AZ_SCENARIO: scenario, FAKE_AZ_LOG: log, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const calls = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const fields = line.split('\u001f');
        return { args: fields.slice(0, -1), exit: Number(fields[fields.length - 1]) } satisfies AzCall;
      });
    return { status: result.status, stdout: result.stdout, output: `${result.stdout}${result.stderr}`, calls };
  }

  dispose() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function option(call: AzCall, name: string): string | undefined {
  const index = call.args.indexOf(name);
  return index >= 0 ? call.args[index + 1] : undefined;
}

export const commandOf = (call: AzCall, words: number) => call.args.slice(0, words).join(' ');

/**
 * Calls that do not name the subscription: `--subscription <id>` on every command, and for
 * `az rest` (which has no --subscription) an absolute ARM URL under /subscriptions/<id>/.
 */
export function callsWithoutSubscription(calls: readonly AzCall[], subscriptionId: string): string[] {
  return calls
    .filter((call) => {
      if (call.args[0] === 'rest') {
        const url = option(call, '--url') ?? option(call, '--uri') ?? '';
        return !url.startsWith(`https://management.azure.com/subscriptions/${subscriptionId}/`);
      }
      return option(call, '--subscription') !== subscriptionId;
    })
    .map((call) => `az ${call.args.join(' ')}`);
}
