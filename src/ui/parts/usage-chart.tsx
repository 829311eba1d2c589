/** Live cpu and memory of an allocation, drawn with uPlot from its agent's measurements once a second. */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from '../api.ts';
import { ErrorBox } from './common.tsx';

const POINTS = 120;

/** The chart of one allocation's usage. */
export function UsageChart({ allocId }: { allocId: string }): ReactNode {
  const host = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    const data: [number[], number[], number[]] = [[], [], []];
    const styles = getComputedStyle(document.documentElement);
    const stroke = (v: string): string => styles.getPropertyValue(v).trim() || '#888';
    const plot = new uPlot(
      {
        width: Math.min(900, host.current!.clientWidth || 600),
        height: 180,
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
        })
        .catch(setError);
    }, 1_000);
    return () => (clearInterval(timer), plot.destroy());
  }, [allocId]);
  return (
    <div>
      <div className="chart" ref={host} aria-label="cpu and memory over the last two minutes" role="img" />
      <ErrorBox error={error} />
    </div>
  );
}
