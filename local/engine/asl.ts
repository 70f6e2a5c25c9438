/**
 * The task state machine definition the local mode runs. TEMPORARY: read from SUNDIAL_ASL_FILE while the
 * CDK engine construct is written.
 */
import { readFileSync } from 'node:fs';

export async function loadTaskDefinition(): Promise<object> {
  return JSON.parse(readFileSync(process.env.SUNDIAL_ASL_FILE ?? '/tmp/eng/asl.json', 'utf8'));
}
