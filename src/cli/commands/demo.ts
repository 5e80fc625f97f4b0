import { join } from 'node:path';
import type { Command } from 'commander';
import { ArsClient } from '../../client/index.js';
import { silentLogger } from '../../util/logger.js';
import { randomId } from '../../util/ids.js';
import {
  connect,
  createControlWorker,
  createHostWorker,
  installQuietRuntime,
} from '../../../workers/index.js';
import { projectRoot, readJsonFile, settings } from '../context.js';
import { runServicesScript } from './services.js';

/**
 * `ars demo` (what `npm start` runs): starts the services it needs, runs the standalone workers in
 * this process, runs examples/hello-agent.json in a Docker sandbox, prints its result and the
 * Temporal UI address of its workflow, then stops the workers (the services keep running).
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the example agent in a Docker sandbox on the embedded runtime')
    .option('--config <file>', 'agent config to run', join(projectRoot, 'examples', 'hello-agent.json'))
    .action(async (opts: { config: string }) => {
      const input = (await readJsonFile(opts.config)) as Record<string, unknown>;
      console.log('ars demo: starting services (Temporal, Redis, Docker, sandbox image) as needed');
      const code = await runServicesScript(['up']);
      if (code !== 0) {
        process.exitCode = code;
        return;
      }
      installQuietRuntime('ERROR');
      const config = settings();
      const connection = await connect(config);
      const deps = { settings: config, logger: silentLogger, connection: connection.native };
      const control = await createControlWorker({ ...deps, client: connection.client });
      const host = await createHostWorker({ ...deps, client: connection.client });
      const running = Promise.all([control.run(), host.run()]);
      try {
        const ars = new ArsClient(connection.client, config);
        const agent = await ars.createAgent({
          ...input,
          id: randomId(typeof input.name === 'string' ? input.name : 'agent'),
        });
        console.log(`ars demo: agent ${agent.id} started in a ${agent.tier} sandbox`);
        console.log(`ars demo: watch it in the Temporal UI: ${ars.uiUrl(agent.id)}`);
        const result = await ars.result(agent.id);
        const status = await ars.status(agent.id);
        console.log(
          `ars demo: lifecycle ${['Initializing', ...status.history.map((t) => t.to)].join(' → ')}`,
        );
        console.log(
          `ars demo: task ${result.result?.outcome ?? 'none'}, exit code ${result.result?.exitCode ?? '-'}, ${result.result?.durationMs ?? 0} ms in the sandbox`,
        );
        console.log('ars demo: the agent printed:');
        console.log(result.result?.stdout.trimEnd() ?? '');
        if (result.result?.stderr) console.log(`ars demo: stderr:\n${result.result.stderr.trimEnd()}`);
        console.log(`ars demo: done; its container is gone. Workflow: ${ars.uiUrl(agent.id)}`);
        if (result.result?.outcome !== 'succeeded') process.exitCode = 1;
      } finally {
        control.worker.shutdown();
        host.worker.shutdown();
        await running;
        await connection.close();
      }
    });
}
