import { existsSync, readdirSync } from 'node:fs';

/** Files from the repo root that the Functions host needs beside dist/ and node_modules/. */
export const PACKAGE_ROOT_FILES = ['host.json', 'package.json', 'package-lock.json'] as const;

/** The compiled folders that run in Azure: the function registrations and shared/ (never local/, cli/, emulators/). */
export const DEPLOYED_DIST_FOLDERS = ['functions', 'shared'] as const;

/** Which of dist/'s top-level folders go into the package. */
export function packagedDist(distRoot: string): string[] {
  if (!existsSync(distRoot)) throw new Error(`${distRoot} is missing: run npm run build first`);
  const present = new Set(readdirSync(distRoot));
  const missing = DEPLOYED_DIST_FOLDERS.filter((d) => !present.has(d));
  if (missing.length) throw new Error(`dist/ has no ${missing.join(', ')}: run npm run build first`);
  return [...DEPLOYED_DIST_FOLDERS];
}

/**
 * Whether a packaged file is local tooling that must never ship: the local runtime, the CLI, the
 * emulators, or a local-only package (Azurite and what only it brings).
 */
export function forbiddenInPackage(file: string): boolean {
  return (
    /^dist\/(local|cli|emulators|test|scripts)\//.test(file) ||
    /^(local|cli|emulators|bin|test|scripts|infra|examples)\//.test(file) ||
    /(^|\/)node_modules\/(azurite|tsx|vitest|typescript|dependency-cruiser)\//.test(file) ||
    (!file.includes('node_modules/') && /(?<!\.d)\.ts$/.test(file))
  );
}
