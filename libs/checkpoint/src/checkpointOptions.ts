import { z } from 'zod';

/** The `checkpointing` section of a recipe (NeMo RL key names). */
export const checkpointingSchema = z
  .object({
    /** save checkpoints at all */
    enabled: z.boolean().default(true),
    /** where `step_<n>` directories go; relative paths are inside the run directory */
    checkpoint_dir: z.string().min(1).default('checkpoints'),
    /** save every N algorithm steps (and always at the end of a run) */
    save_period: z.number().int().positive().default(10),
    /** keep the newest K checkpoints (null keeps all) */
    keep_top_k: z.number().int().positive().nullable().default(3),
    /** metric that ranks checkpoints for keep-best (e.g. `validation/accuracy`); null keeps the newest */
    metric_name: z.string().nullable().default(null),
    /** whether larger `metric_name` values are better */
    higher_is_better: z.boolean().default(true),
  })
  .strict();

export type CheckpointingOptions = z.infer<typeof checkpointingSchema>;
