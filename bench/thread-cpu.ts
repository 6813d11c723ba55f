import { readFileSync, readdirSync } from 'node:fs';

/**
 * CPU ms used so far by each thread of this process, by thread id (Linux: /proc/self/task/<tid>/stat,
 * fields utime and stime, in clock ticks of 10 ms). On a machine shared with other jobs the wall
 * clock of a two-thread run measures the other jobs too; the busiest thread's CPU time is what the
 * run needs of a free core.
 */
export function threadCpuMs(): Map<string, number> {
  const msPerTick = 10;
  const result = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      result.set(tid, (Number(fields[11]) + Number(fields[12])) * msPerTick);
    } catch {
      // the thread ended meanwhile
    }
  }
  return result;
}

/** The busiest thread's CPU seconds since process start (0 where /proc is missing). */
export function busiestThreadCpuSeconds(): number {
  try {
    return Math.max(0, ...threadCpuMs().values()) / 1000;
  } catch {
    return 0;
  }
}

/**
 * CPU ms per step of each thread between two readings (`before` from threadCpuMs), busiest first:
 * the first `threads` are the training threads; the rest (V8's helpers, GC) are summed. Images/s
 * are what the busiest training thread allows on free cores (the threads wait for each other only
 * at a step's ends).
 */
export function cpuPerStep(before: Map<string, number>, steps: number, threads: number, batchSize: number) {
  const perThread = [...threadCpuMs()]
    .map(([tid, ms]) => (ms - (before.get(tid) ?? ms)) / steps)
    .filter((ms) => ms > 0)
    .sort((a, b) => b - a);
  return {
    cpuMsPerStepByThread: perThread.slice(0, threads).map((ms) => +ms.toFixed(1)),
    otherThreadsCpuMsPerStep: +perThread
      .slice(threads)
      .reduce((a, b) => a + b, 0)
      .toFixed(1),
    estimatedImagesPerSecondOnFreeCores: Math.round((batchSize * 1000) / perThread[0]),
  };
}
