/**
 * The benchmark's matrix. Each scenario is one target serving one path at one number of
 * connections: every mode × script × connections; the size sweep (big.js?kb=N per mode, and
 * the same sizes as static files) at one connection, since its line fit uses the latency of a
 * lone client, as the 1996 whitepaper did; and each peer at every connection count.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Peer } from './peers.ts';
import type { Target } from './targets.ts';

export interface Scenario {
  /** Stable and readable: "cgi hello.sh c=8", "static 100KB c=1". */
  id: string;
  target: Target;
  script: string;
  /** The URL path and query asked for. */
  path: string;
  connections: number;
  /** KB asked for in the size sweep; null for the hello scripts. */
  sizeKb: number | null;
}

export interface Matrix {
  modes: Target[];
  scripts: string[];
  connections: number[];
  sizes: number[];
  staticTarget?: Target;
  peers: Peer[];
}

export const sweepConnections = 1;

export function buildScenarios(m: Matrix): Scenario[] {
  const scenarios: Scenario[] = [];
  const add = (target: Target, script: string, path: string, connections: number, sizeKb: number | null) =>
    scenarios.push({ id: `${target.name} ${sizeKb === null ? script : `${sizeKb}KB`} c=${connections}`, target, script, path, connections, sizeKb });

  for (const target of m.modes) {
    for (const script of m.scripts) for (const c of m.connections) add(target, script, `/cgi-bin/${script}`, c, null);
  }
  for (const peer of m.peers) for (const c of m.connections) add(peer, peer.script, peer.path, c, null);
  for (const kb of m.sizes) {
    if (m.staticTarget) add(m.staticTarget, staticFile(kb), `/${staticFile(kb)}`, sweepConnections, kb);
    for (const target of m.modes) add(target, 'big.js', `/cgi-bin/big.js?kb=${kb}`, sweepConnections, kb);
  }
  return scenarios;
}

const staticFile = (kb: number) => `kb-${kb}.txt`;

/** A docroot holding one file per swept size, for the static row; remove() deletes it. */
export async function sizedDocroot(sizes: number[]): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'webhist-bench-docroot-'));
  for (const kb of sizes) await writeFile(join(dir, staticFile(kb)), Buffer.alloc(kb * 1024, 'webhist static '));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
