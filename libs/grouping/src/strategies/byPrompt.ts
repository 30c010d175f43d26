import { z } from 'zod';
import { relabelGroups } from './fitGroupSizes';
import type { GroupingStrategy } from './groupingInput';

export const byPromptOptions = z.strictObject({});

/**
 * NeMo RL's grouping: all generations of one prompt form a group (ids follow the
 * order in which prompts first appear).
 */
export const byPrompt: GroupingStrategy<z.infer<typeof byPromptOptions>> = (samples) =>
  relabelGroups(samples.promptIds);
