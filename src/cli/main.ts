/**
 * The webhist command line: this file only wires the commands, one file each.
 */
import { Command } from 'commander';
import { benchCommand } from './bench.ts';
import { learnCommand } from './learn.ts';
import { runCommand } from './run.ts';
import { serveCommand } from './serve.ts';
import { workerCommand } from './worker.ts';
import { fail, speakOurWay } from './ui.ts';

const program = new Command('webhist')
  .description('A working history of web backends: CGI, FastCGI and embedded interpreters, side by side')
  .version('0.1.0')
  .addCommand(serveCommand)
  .addCommand(runCommand)
  .addCommand(benchCommand)
  .addCommand(workerCommand)
  .addCommand(learnCommand)
  .addHelpText(
    'after',
    `
Examples:
  webhist serve                                 the landing page and every demo, in CGI mode
  webhist run cgi-bin/printenv.js --query a=1   one request, no server: env in, bytes out
  webhist learn                                 the guided history lessons, 1991 onwards`,
  );

speakOurWay(program);
program.parseAsync().catch(fail);
