/**
 * The progress line: one line on stderr, rewritten in place, saying which scenario and run is
 * going, the phase, and roughly how long is left. Only on a terminal: in a pipe or a CI log it
 * would be noise, and stdout stays clean for the report.
 */
import { paintErr } from '../../src/ui.ts';

export interface ProgressState {
  step: number;
  steps: number;
  id: string;
  run: number;
  runs: number;
  phase: 'start' | 'warmup' | 'measure' | 'validate' | 'stop';
  elapsedMs: number;
  responses: number;
}

export interface Progress {
  update(state: ProgressState): void;
  clear(): void;
}

const phases: Record<ProgressState['phase'], string> = {
  start: 'starting',
  warmup: 'warming up',
  measure: 'measuring',
  validate: 'asking wrk',
  stop: 'stopping',
};

export function createProgress(timing: { durationMs: number; warmupMs: number; validate: boolean }, stream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, clear() {} };
  // Per step: warm-up, window, wrk's window when validating, and about a second to start and stop.
  const stepMs = timing.warmupMs + timing.durationMs * (timing.validate ? 2 : 1) + 1000;
  return {
    update(s) {
      const phaseMs = s.phase === 'warmup' ? timing.warmupMs : timing.durationMs;
      const clock = s.phase === 'warmup' || s.phase === 'measure' ? ` ${(s.elapsedMs / 1000).toFixed(0)}/${(phaseMs / 1000).toFixed(0)}s` : '';
      const count = s.phase === 'measure' ? `, ${s.responses} responses` : '';
      const leftS = ((s.steps - s.step + 1) * stepMs) / 1000;
      const left = leftS < 90 ? `${Math.ceil(leftS / 10) * 10} s` : `${Math.round(leftS / 60)} min`;
      const line =
        `${paintErr.dim(`[${s.step}/${s.steps}]`)} ${paintErr.bold(s.id)} run ${s.run}/${s.runs}: ${phases[s.phase]}${clock}${count}` +
        paintErr.dim(`  (about ${left} left)`);
      stream.write(`\r\x1b[2K${line}`);
    },
    clear() {
      stream.write('\r\x1b[2K');
    },
  };
}
