import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const AZURITE_MODULE = path.resolve(__dirname, '..', '..', 'local', 'azurite');

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Issue 12 item 5: a kill -9 of the process that started Azurite must not leave Azurite holding its ports. */
describe('Azurite started by the local runtime', () => {
  it('exits when its parent is killed with SIGKILL', async () => {
    const script = path.join(tmpdir(), `azurite-parent-${process.pid}.ts`);
    writeFileSync(
      script,
      `import { startAzurite } from ${JSON.stringify(AZURITE_MODULE)};\nstartAzurite().then((a) => console.log(new URL(a.endpoints.blob).port));\n`,
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<number>((resolve, reject) => {
      parent.stdout.on('data', (chunk: Buffer) => {
        const n = Number(chunk.toString().trim());
        if (n) resolve(n);
      });
      parent.once('exit', (code) => reject(new Error(`parent exited early (${code})`)));
    });
    expect(await listening(port)).toBe(true);
    parent.kill('SIGKILL');
    let open = true;
    for (let i = 0; i < 50 && open; i++) {
      await new Promise((r) => setTimeout(r, 200));
      open = await listening(port);
    }
    expect(open).toBe(false);
  }, 60_000);
});
