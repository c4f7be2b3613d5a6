/**
 * ErrorChart: error vs step (or NFE) for fidelity reports, as SVG, one line per series, with a log-scale
 * option for the y axis (a toggle in the header unless hidden). Geometry comes from chart-layout.ts.
 */
import { useState, type CSSProperties } from 'react';
import { layoutErrorChart, type ErrorSeries } from './chart-layout.ts';
import { formatValue } from './LatentView.tsx';

export interface ErrorChartProps {
  series: readonly ErrorSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Initial y scale (default log: errors span decades). */
  logY?: boolean;
  logX?: boolean;
  /** Show the log/linear checkbox (default true). */
  scaleToggle?: boolean;
  width?: number;
  height?: number;
  className?: string;
  style?: CSSProperties;
}

export function ErrorChart({
  series, title, xLabel = 'step', yLabel = 'error', logY = true, logX = false, scaleToggle = true,
  width = 480, height = 280, className, style,
}: ErrorChartProps) {
  const [log, setLog] = useState(logY);
  const layout = layoutErrorChart(series, { width, height, logY: log, logX });
  const { plot } = layout;
  const axisColor = 'currentColor';
  return (
    <figure className={['fs-error-chart', className].filter(Boolean).join(' ')} style={{ margin: 0, ...style }}>
      <div style={{ display: 'flex', justifyContent: 'space-between', alignItems: 'center', fontSize: 12 }}>
        <span>{title}</span>
        {scaleToggle && (
          <label style={{ display: 'flex', gap: 4, alignItems: 'center' }}>
            <input type="checkbox" checked={log} onChange={(e) => setLog(e.currentTarget.checked)} />
            log scale
          </label>
        )}
      </div>
      <svg
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={title ?? `${yLabel} vs ${xLabel}`}
        style={{ fontSize: 10, overflow: 'visible' }}
      >
        {layout.yTicks.map((t) => (
          <g key={`y${t.value}`}>
            <line x1={plot.left} x2={plot.left + plot.width} y1={t.pos} y2={t.pos} stroke={axisColor} strokeOpacity={0.15} />
            <text x={plot.left - 6} y={t.pos} textAnchor="end" dominantBaseline="middle" fill={axisColor}>
              {t.label}
            </text>
          </g>
        ))}
        {layout.xTicks.map((t) => (
          <g key={`x${t.value}`}>
            <line x1={t.pos} x2={t.pos} y1={plot.top} y2={plot.top + plot.height} stroke={axisColor} strokeOpacity={0.15} />
            <text x={t.pos} y={plot.top + plot.height + 14} textAnchor="middle" fill={axisColor}>
              {t.label}
            </text>
          </g>
        ))}
        <rect x={plot.left} y={plot.top} width={plot.width} height={plot.height} fill="none" stroke={axisColor} strokeOpacity={0.5} />
        <text x={plot.left + plot.width / 2} y={height - 4} textAnchor="middle" fill={axisColor}>
          {xLabel}
          {logX ? ' (log)' : ''}
        </text>
        <text
          transform={`translate(12 ${plot.top + plot.height / 2}) rotate(-90)`}
          textAnchor="middle"
          fill={axisColor}
        >
          {yLabel}
          {log ? ' (log)' : ''}
        </text>
        {layout.series.map((s) => (
          <g key={s.label} className="fs-error-series" data-label={s.label}>
            <path d={s.path} fill="none" stroke={s.color} strokeWidth={1.5} />
            {s.markers.length <= 64 &&
              s.markers.map((m, i) => (
                <circle key={i} cx={m.x} cy={m.y} r={2.5} fill={s.color}>
                  <title>{`${s.label}: ${xLabel} ${m.value.x}, ${yLabel} ${formatValue(m.value.y)}`}</title>
                </circle>
              ))}
          </g>
        ))}
        {layout.empty && (
          <text x={plot.left + plot.width / 2} y={plot.top + plot.height / 2} textAnchor="middle" fill={axisColor} opacity={0.6}>
            no data{log ? ' above 0' : ''}
          </text>
        )}
      </svg>
      <div style={{ display: 'flex', flexWrap: 'wrap', gap: 10, fontSize: 11 }}>
        {layout.series.map((s) => (
          <span key={s.label} style={{ display: 'inline-flex', alignItems: 'center', gap: 4 }}>
            <span style={{ width: 10, height: 2, background: s.color, display: 'inline-block' }} />
            {s.label}
          </span>
        ))}
        {layout.dropped > 0 && (
          <span style={{ opacity: 0.7 }}>
            {layout.dropped} point{layout.dropped === 1 ? '' : 's'} not shown ({log || logX ? '≤ 0 or ' : ''}not finite)
          </span>
        )}
      </div>
    </figure>
  );
}
