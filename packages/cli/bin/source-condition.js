// Node module-resolution hook: resolve workspace packages through their '@gaze/source' export
// (TypeScript source) instead of the built dist/.
export async function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions.includes('@gaze/source') ? context.conditions : [...context.conditions, '@gaze/source'];
  return nextResolve(specifier, { ...context, conditions });
}
