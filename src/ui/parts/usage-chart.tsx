/** Live cpu and memory of an allocation, drawn with uPlot from its agent's measurements once a second. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from '../api.ts';
import { ErrorBox } from './common.tsx';

const POINTS = 120;

/**
 * The chart of one allocation's usage. Memory is drawn from 0 to what the allocation reserves (or
 * more, if it uses more), so the line shows how near it is to its limit; the newest values are
 * written out beside it.
 */
export function UsageChart({ allocId, reservedMiB }: { allocId: string; reservedMiB: number }): ReactNode {
  const host = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<unknown>();
  const [latest, setLatest] = useState<{ cpu: number; mem: number }>();
  useEffect(() => {
    const data: [number[], number[], number[]] = [[], [], []];
    const styles = getComputedStyle(document.documentElement);
    const stroke = (v: string): string => styles.getPropertyValue(v).trim() || '#888';
    const plot = new uPlot(
      {
        width: Math.min(900, host.current!.clientWidth || 600),
        height: 180,
        legend: { live: false },
        scales: { y: { range: (_u, _min, max) => [0, Math.max(100, max)] }, mem: { range: (_u, _min, max) => [0, Math.max(reservedMiB, max) * 1.05] } },
        axes: [{ stroke: stroke('--muted') }, { stroke: stroke('--muted'), label: 'cpu %' }, { side: 1, stroke: stroke('--muted'), label: 'MiB', scale: 'mem' }],
        series: [{}, { label: 'cpu %', stroke: stroke('--accent'), width: 2 }, { label: 'memory MiB', stroke: stroke('--ok'), width: 2, scale: 'mem' }],
      },
      data,
      host.current!,
    );
    const timer = setInterval(() => {
      api()
        .allocStats(allocId)
        .then((s) => {
          setError(undefined);
          data[0].push(Date.now() / 1000);
          data[1].push(s.cpuPercent);
          data[2].push(s.memoryBytes / 1048576);
          for (const d of data) if (d.length > POINTS) d.shift();
          plot.setData(data);
          setLatest({ cpu: s.cpuPercent, mem: s.memoryBytes / 1048576 });
        })
        .catch(setError);
    }, 1_000);
    return () => (clearInterval(timer), plot.destroy());
  }, [allocId, reservedMiB]);
  return (
    <div>
      <p data-testid="usage-now">
        {latest ? (
          <>
            Now: cpu {latest.cpu.toFixed(1)} %, memory {latest.mem.toFixed(1)} MiB of {reservedMiB} MiB reserved
          </>
        ) : (
          <span className="muted">Measuring…</span>
        )}
      </p>
      <div className="chart" ref={host} aria-label="cpu and memory over the last two minutes" role="img" />
      <ErrorBox error={error} />
    </div>
  );
}
