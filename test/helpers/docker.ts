import { execFileSync } from 'node:child_process';

/** The sandbox image the tests run agents in (built by scripts/build-image.sh). */
export const SANDBOX_IMAGE = 'ars-sandbox:local';

/** Why Docker tests cannot run here (no docker, or no sandbox image), or undefined when they can. */
export function dockerProblem(image = SANDBOX_IMAGE): string | undefined {
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `docker or the image ${image} is not available (run scripts/services.sh up)`;
  }
}
