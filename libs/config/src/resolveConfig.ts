import type { z } from 'zod';
import type { ConfigSections, SectionsOutput } from './defineSections';
import { loadRecipe, type LoadRecipeOptions } from './loadRecipe';
import { applyOverrides } from './overrides';

/** Load a recipe (with its defaults), apply `key.path=value` overrides and validate it. */
export function resolveConfig<S extends Record<string, z.ZodType>>(
  recipe: string,
  overrides: readonly string[],
  sections: ConfigSections<S>,
  options: LoadRecipeOptions = {},
): SectionsOutput<S> {
  return sections.validate(applyOverrides(loadRecipe(recipe, options), overrides));
}
