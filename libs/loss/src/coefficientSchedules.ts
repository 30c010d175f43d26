import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core/base';
import { makeSchedule, scheduleSchema, type Schedule } from './schedules';

/**
 * A recipe's `schedules:` section: config key path → schedule, e.g.
 * `loss_fn.entropy_coef: { type: linear, start: 0.01, end: 0, end_step: 200 }` or
 * `loss_fn.reference_policy_kl_penalty: { type: band, initial: 0.01, metric: train/kl_penalty, target: 0.05 }`.
 */
export const coefficientSchedulesSchema = z
  .record(
    z.string().regex(/^[A-Za-z_]\w*(\.\w+)+$/, 'a key path such as loss_fn.entropy_coef'),
    scheduleSchema,
  )
  .default({});
export type CoefficientSchedulesSpec = z.input<typeof coefficientSchedulesSchema>;

const read = (config: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (o, k) =>
        o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined,
      config,
    );

/**
 * The coefficients of a run that follow schedules or controllers: asked once per
 * step with the previous step's metrics, they give a copy of the config with those
 * numbers set; their state (controller values, integrals) round-trips through JSON
 * so a resumed run continues exactly.
 */
export class CoefficientSchedules {
  private readonly schedules: ReadonlyArray<[path: string, schedule: Schedule]>;

  /** Throws (naming the key) when a path does not hold a number in `config`. */
  constructor(
    spec: Record<string, z.input<typeof scheduleSchema>>,
    config: unknown,
    allowed: (path: string) => boolean = () => true,
  ) {
    this.schedules = Object.entries(spec).map(([path, s]) => {
      if (typeof read(config, path) !== 'number' || !allowed(path))
        throw new RxrlConfigError(
          `schedules.${path}: not a numeric coefficient of this recipe (e.g. loss_fn.entropy_coef, loss_fn.reference_policy_kl_penalty)`,
        );
      return [path, makeSchedule(s)];
    });
  }

  get size(): number {
    return this.schedules.length;
  }

  /** Each scheduled coefficient's value at `step`, given the previous step's metrics. */
  values(step: number, metrics?: Record<string, number>): Record<string, number> {
    return Object.fromEntries(this.schedules.map(([p, s]) => [p, s.value(step, metrics)]));
  }

  /** A copy of `config` with `values` set at their paths (objects along each path are copied, nothing else). */
  static apply<T>(config: T, values: Record<string, number>): T {
    let out = config;
    for (const [path, v] of Object.entries(values)) {
      const keys = path.split('.');
      const set = (o: unknown, i: number): unknown => {
        const obj = { ...(o as Record<string, unknown>) };
        obj[keys[i]!] = i === keys.length - 1 ? v : set(obj[keys[i]!], i + 1);
        return obj;
      };
      out = set(out, 0) as T;
    }
    return out;
  }

  getState(): Record<string, Record<string, number | null>> {
    return Object.fromEntries(this.schedules.map(([p, s]) => [p, s.getState()]));
  }

  /** Restore {@link getState}; a schedule missing from `state` keeps its start. */
  setState(state: Record<string, Record<string, number | null>>): void {
    for (const [p, s] of this.schedules) if (state[p] !== undefined) s.setState(state[p]);
  }
}
