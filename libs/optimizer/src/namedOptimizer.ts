import * as tf from '@tensorflow/tfjs-core';
import { RxrlConfigError, RxrlUsageError } from '@rxrl/core';
import { LrScheduler, type LrSchedulerState } from './lrSchedule';
import { toVariableMap, type NamedTensors, type NamedVariables } from './namedVariables';
import { resolveHyper, type ParamGroup, type ResolvedHyper } from './paramGroups';

/** Optimizer state as plain typed arrays keyed by variable name: what a checkpoint stores. */
export interface OptimizerState {
  /** optimizer kind, checked on load */
  kind: string;
  /** algorithm steps taken */
  step: number;
  /** learning-rate scheduler state */
  schedule: LrSchedulerState;
  /** per variable: its own update count (torch's per-parameter `step`) and its slots (exp_avg, ...) */
  variables: Record<string, { step: number; shape: number[]; slots: Record<string, Float32Array> }>;
}

interface Slots {
  step: number;
  slots: Map<string, tf.Variable>;
}

/**
 * Base of the optimizers here: every per-variable state is keyed by the
 * variable's name (never by its position in a list), so state survives a
 * reordered or filtered variable list and a save/load. The learning rate comes
 * from an {@link LrScheduler} stepped once per `step()` call.
 */
export abstract class NamedOptimizer {
  /** the learning-rate scheduler, stepped after each update */
  readonly scheduler: LrScheduler;
  protected readonly variables: Map<string, tf.Variable>;
  private readonly hyper = new Map<string, ResolvedHyper>();
  private readonly state = new Map<string, Slots>();
  private steps = 0;

  protected constructor(
    readonly kind: string,
    variables: NamedVariables,
    lr: number,
    weightDecay: number,
    groups: readonly ParamGroup[],
    scheduler?: LrScheduler,
  ) {
    this.variables = toVariableMap(variables);
    for (const name of this.variables.keys())
      this.hyper.set(name, resolveHyper(name, groups, weightDecay));
    this.scheduler = scheduler ?? new LrScheduler(lr);
    if (this.scheduler.baseLr !== lr) {
      throw new RxrlConfigError(
        `optimizer lr ${lr} differs from its scheduler's base lr ${this.scheduler.baseLr}`,
      );
    }
  }

  /** algorithm steps taken */
  get stepCount(): number {
    return this.steps;
  }

  /** the learning rate the next `step()` will use (before any group `lr_scale`) */
  get lr(): number {
    return this.scheduler.lr;
  }

  /** names of the slot tensors this optimizer keeps per variable, in save order */
  protected abstract slotNames(): readonly string[];

  /**
   * Updates one variable in place. `t` is that variable's 1-based update count;
   * `slots` are created (zeros) before the first call. `gradScale` multiplies
   * `g` first (1: none). Runs inside tf.tidy.
   */
  protected abstract update(
    v: tf.Variable,
    g: tf.Tensor,
    slots: Map<string, tf.Variable>,
    t: number,
    lr: number,
    hyper: ResolvedHyper,
    gradScale: number,
  ): void;

  /**
   * Applies one update with `grads` keyed by variable name (as `tf.variableGrads`
   * returns them). Variables without a gradient are skipped, like torch's `grad is
   * None`. The caller keeps ownership of `grads`. Steps the scheduler afterwards.
   * `gradScale` multiplies every gradient first — global-norm clipping's
   * coefficient, applied without a scaled copy of the gradients.
   */
  step(grads: NamedTensors, options: { gradScale?: number } = {}): void {
    const gradScale = options.gradScale ?? 1;
    if (!(gradScale >= 0 && Number.isFinite(gradScale)))
      throw new RxrlUsageError(`gradScale must be finite and >= 0, got ${gradScale}`);
    for (const name of Object.keys(grads)) {
      if (!this.variables.has(name)) {
        throw new RxrlUsageError(
          `gradient for '${name}', which is not one of this optimizer's variables`,
        );
      }
    }
    const lr = this.scheduler.lr;
    for (const [name, v] of this.variables) {
      const g = grads[name];
      if (!g) continue;
      if (!tf.util.arraysEqual(g.shape, v.shape)) {
        throw new RxrlUsageError(
          `gradient for '${name}' has shape [${g.shape}] but the variable is [${v.shape}]`,
        );
      }
      const s = this.slotsFor(name, v);
      s.step++;
      const hyper = this.hyper.get(name)!;
      tf.tidy(() => this.update(v, g, s.slots, s.step, lr * hyper.lrScale, hyper, gradScale));
    }
    this.steps++;
    this.scheduler.step();
  }

  private slotsFor(name: string, v: tf.Variable): Slots {
    let s = this.state.get(name);
    if (!s) {
      const slots = new Map<string, tf.Variable>();
      // tidy frees the zeros each variable is copied from (the variable keeps its own reference)
      for (const k of this.slotNames())
        slots.set(
          k,
          tf.tidy(() => tf.variable(tf.zerosLike(v), false)),
        );
      s = { step: 0, slots };
      this.state.set(name, s);
    }
    return s;
  }

  /**
   * The state as typed arrays. Copies by default (safe to keep after further
   * steps); `{ copy: false }` hands out the slots' own arrays where the backend
   * keeps them in host memory (cpu, native) — valid only until the next step,
   * for a checkpoint written at once without a second 8 bytes per parameter.
   */
  getState(options: { copy?: boolean } = {}): OptimizerState {
    const copy = options.copy ?? true;
    const variables: OptimizerState['variables'] = {};
    for (const [name, s] of this.state) {
      const slots: Record<string, Float32Array> = {};
      for (const [k, t] of s.slots) {
        const data = t.dataSync() as Float32Array;
        slots[k] = copy ? Float32Array.from(data) : data;
      }
      variables[name] = { step: s.step, shape: this.variables.get(name)!.shape.slice(), slots };
    }
    return { kind: this.kind, step: this.steps, schedule: this.scheduler.getState(), variables };
  }

  /** Restores a state from {@link getState}; names, shapes and slot sizes are checked. */
  loadState(state: OptimizerState): void {
    if (state.kind !== this.kind)
      throw new RxrlConfigError(`optimizer state is for '${state.kind}', not '${this.kind}'`);
    for (const [name, saved] of Object.entries(state.variables)) {
      const v = this.variables.get(name);
      if (!v)
        throw new RxrlConfigError(
          `optimizer state has variable '${name}', which this optimizer does not have`,
        );
      if (!tf.util.arraysEqual(saved.shape, v.shape)) {
        throw new RxrlConfigError(
          `optimizer state for '${name}' has shape [${saved.shape}], the variable is [${v.shape}]`,
        );
      }
      for (const k of this.slotNames()) {
        const data = saved.slots[k];
        if (!data || data.length !== v.size) {
          throw new RxrlConfigError(
            `optimizer state for '${name}': slot '${k}' is missing or has the wrong size`,
          );
        }
      }
    }
    this.disposeState();
    for (const [name, saved] of Object.entries(state.variables)) {
      const v = this.variables.get(name)!;
      const slots = new Map<string, tf.Variable>();
      for (const k of this.slotNames()) {
        slots.set(
          k,
          tf.tidy(() => tf.variable(tf.tensor(saved.slots[k]!, v.shape, 'float32'), false)),
        );
      }
      this.state.set(name, { step: saved.step, slots });
    }
    this.steps = state.step;
    this.scheduler.setState(state.schedule);
  }

  /** Frees the slot tensors (the variables being optimised are the caller's). */
  dispose(): void {
    this.disposeState();
  }

  private disposeState(): void {
    for (const s of this.state.values()) for (const t of s.slots.values()) t.dispose();
    this.state.clear();
  }
}
