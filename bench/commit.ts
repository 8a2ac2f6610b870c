// The commit a bench run measures, read when the run starts: one made while it runs is not the code it ran.
import { execFileSync } from 'node:child_process';

export function commitAt(root: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
