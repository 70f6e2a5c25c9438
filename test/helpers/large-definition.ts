/**
 * The largest definitions the limits are made for (README "Limits"), as a generated client sends them:
 * every optional field given, defaults written out, compact JSON. Deterministic (a seeded generator), so
 * that sizes measured in one run are the sizes of the next.
 *
 * {@link fullFieldDefinition}: `layers` × `perLayer` tasks (10 × 1,000 by default), each task of a layer
 * depending on two of the layer before; the executables rotate through the three kinds, each with every
 * field it has; names at their 64-character maximum; 256-character scripts and 32-character ids of
 * incompressible text (so that gzip cannot make the body small by itself); two environment variables per
 * task; a description, a cron schedule with its time zone, parameters, an upstream definition and one
 * notification of each kind, each with every field.
 */
import type { JsonObject } from './factories';

/** A small deterministic generator (mulberry32): the same seed gives the same definition. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** `length` characters of base64-alphabet text from `next`: incompressible beyond its 6 bits a character. */
function noise(next: () => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(next() * 64)];
  return out;
}

/** The 64-character name of task `index` of `layer`. */
export function taskNameAt(layer: number, index: number): string {
  return `layer-${String(layer).padStart(2, '0')}-task-${String(index).padStart(5, '0')}-`.padEnd(64, 'x');
}

export interface FullFieldOptions {
  layers?: number;
  perLayer?: number;
  seed?: number;
}

/** A definition as a generated client sends it (see the file comment); `layers × perLayer` tasks. */
export function fullFieldDefinition(name: string, options: FullFieldOptions = {}): JsonObject {
  const { layers = 10, perLayer = 1000, seed = 18 } = options;
  const next = random(seed);
  const environment = () => [
    { variable_name: 'SUNDIAL_EXAMPLE_SETTING', value: noise(next, 32) },
    { variable_name: 'RUN_MODE', value: 'full' },
  ];
  const executable = (i: number): JsonObject => {
    switch (i % 3) {
      case 0:
        return {
          docker_image_command: {
            image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl/extract',
            tag: `v2.${i % 50}`,
            command: ['python', '-m', 'etl.extract', `--shard=${i}`],
            memory: 2048,
            cpu: 1024,
            taskRoleArn: 'arn:aws:iam::123456789012:role/etl-task',
            log_paths: ['/var/log/etl/extract.log'],
            environment_variables: environment(),
          },
        };
      case 1:
        return {
          batch_image_command: {
            image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/etl/transform',
            tag: `v3.${i % 50}`,
            command: ['python', '-m', 'etl.transform', `--shard=${i}`],
            memory: 4096,
            vCpus: 2,
            taskRoleArn: 'arn:aws:iam::123456789012:role/etl-task',
            environment_variables: environment(),
            job_queue: 'arn:aws:batch:eu-west-1:123456789012:job-queue/etl',
          },
        };
      default:
        return { shell_script_command: { script: `: '${noise(next, 252)}'`, environment_variables: environment() } };
    }
  };
  const tasks: JsonObject[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (let j = 0; j < perLayer; j++) {
      const dependencies =
        layer === 0
          ? []
          : [
              { task_definition_name: taskNameAt(layer - 1, j), success_required: true },
              { task_definition_name: taskNameAt(layer - 1, (j + 1) % perLayer), success_required: false },
            ].slice(0, Math.min(2, perLayer));
      tasks.push({
        task_definition_name: taskNameAt(layer, j),
        dependencies,
        executable: executable(layer * perLayer + j),
        max_attempts: 3,
        max_runtime_seconds: 3600,
        backoff_base_seconds: 30,
        backoff_exponent: 2.5,
        require_explicit_success: false,
      });
    }
  }
  return {
    process_definition_name: name,
    paused: true,
    process_description: `Nightly ETL over every shard (${noise(next, 64)})`,
    schedule: { cron_schedule: { minutes: '0', hours: '3', day_of_month: '1', month: 'JAN', day_of_week: '?', time_zone: 'Europe/Amsterdam' } },
    task_definitions: tasks,
    overlap_action: 'wait',
    notifications: [
      { email: { name: 'ETL operators', email: 'etl-operators@example.com', notify_when: 'on_state_change_and_failures' } },
      { pagerduty: { service_key: noise(next, 32), num_consecutive_failures: 2, api_url: 'https://events.pagerduty.com' } },
      { webhook: { url: 'https://hooks.example.com/services/etl', notify_when: 'on_failure', secret: noise(next, 32) } },
    ],
    parameters: [
      { name: 'RUN_DATE', kind: 'optional', default: '2026-01-01', description: 'The day the run processes' },
      { name: 'REGION', kind: 'static', default: 'eu-west-1', description: 'Where the data lives' },
    ],
    upstream: [{ process_definition_name: 'ingest', when: 'succeeded' }],
  };
}
