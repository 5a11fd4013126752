/**
 * The webhist command line: this file only wires the commands, one file each.
 */
import { Command } from 'commander';
import { benchCommand } from './bench.ts';
import { learnCommand } from './learn.ts';
import { runCommand } from './run.ts';
import { serveCommand } from './serve.ts';
import { workerCommand } from './worker.ts';
import { fail } from './ui.ts';

const program = new Command('webhist')
  .description('A working history of web backends: CGI, FastCGI and embedded interpreters, side by side')
  .version('0.1.0')
  .showHelpAfterError('(see webhist --help)')
  .addCommand(serveCommand)
  .addCommand(runCommand)
  .addCommand(benchCommand)
  .addCommand(workerCommand)
  .addCommand(learnCommand);

program.parseAsync().catch(fail);
