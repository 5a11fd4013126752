/**
 * The 1996 yardstick: Open Market's whitepaper "FastCGI: A High-Performance Web Server
 * Interface" (April 1996), §6, measured response time as a fixed cost plus a cost per KB.
 * Source: FastCGI-Archives/fcgi2, doc/fastcgi-whitepaper/fastcgi.htm.
 */

export interface HistoricLine {
  /** Which of webhist's targets plays the same part today. */
  target: 'static' | 'fastcgi' | 'cgi';
  label: string;
  fixedMs: number;
  msPerKb: number;
}

export const whitepaper1996: readonly HistoricLine[] = [
  { target: 'static', label: 'static file', fixedMs: 21, msPerKb: 0.19 },
  { target: 'fastcgi', label: 'FastCGI', fixedMs: 22, msPerKb: 0.28 },
  { target: 'cgi', label: 'CGI', fixedMs: 59, msPerKb: 0.37 },
];
