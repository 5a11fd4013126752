/**
 * Ordinary least squares for the size sweep: latency = fixed + perKb × KB, the form of the
 * 1996 Open Market whitepaper's table, with r² to say how well a straight line describes it.
 */

export interface Line {
  /** The intercept: the cost of a request that sends nothing. */
  fixed: number;
  /** The slope: the cost of each further unit of size. */
  slope: number;
  /** Coefficient of determination, 1 for points exactly on the line. */
  r2: number;
}

/** The least-squares line through the points; undefined with fewer than two distinct x. */
export function fitLine(points: readonly { x: number; y: number }[]): Line | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const meanX = points.reduce((s, p) => s + p.x, 0) / n;
  const meanY = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - meanX) ** 2, 0);
  if (sxx === 0) return undefined;
  const sxy = points.reduce((s, p) => s + (p.x - meanX) * (p.y - meanY), 0);
  const syy = points.reduce((s, p) => s + (p.y - meanY) ** 2, 0);
  const slope = sxy / sxx;
  return { fixed: meanY - slope * meanX, slope, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}
