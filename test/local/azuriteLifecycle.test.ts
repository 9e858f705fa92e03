import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { startAzurite } from '../../local/azurite';

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

  it('saves what it was told just before its parent was killed, and the next Azurite on the folder waits for that', async () => {
    const location = mkdtempSync(path.join(tmpdir(), 'azurite-kill-'));
    const script = path.join(tmpdir(), `azurite-writer-${process.pid}.ts`);
    // Written well inside Azurite's 5 s autosave interval before the kill: only a clean shutdown saves it.
    writeFileSync(
      script,
      [
        `import { BlobServiceClient } from ${JSON.stringify(require.resolve('@azure/storage-blob'))};`,
        `import { startAzurite } from ${JSON.stringify(AZURITE_MODULE)};`,
        `startAzurite({ location: ${JSON.stringify(location)} }).then(async (a) => {`,
        "  const c = BlobServiceClient.fromConnectionString(a.connectionString).getContainerClient('kept');",
        '  await c.createIfNotExists();',
        "  await c.getBlockBlobClient('last-write').upload('written just before the kill', 28);",
        "  console.log('written');",
        '});',
      ].join('\n'),
    );
    const parent = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      parent.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('written')) resolve();
      });
      parent.once('exit', (code) => reject(new Error(`parent exited early (${code})`)));
    });
    parent.kill('SIGKILL');
    // At once, as a restarted `tunedrop dev` would: it waits for the old Azurite to save and exit.
    const next = await startAzurite({ location });
    try {
      const blob = BlobServiceClient.fromConnectionString(next.connectionString)
        .getContainerClient('kept')
        .getBlockBlobClient('last-write');
      expect((await blob.downloadToBuffer()).toString()).toBe('written just before the kill');
    } finally {
      await next.stop();
      rmSync(location, { recursive: true, force: true });
    }
  }, 60_000);
});
