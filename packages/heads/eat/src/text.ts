/**
 * EAT's textual explanation of one image: the predicted class and the predicted attributes that
 * belong to that class. An attribute belongs to a class when at least half of the class's
 * training images have it (its "signature"); among those, the ones predicted with probability >=
 * `threshold` are cited, most probable first, at most `count`.
 */
export function textualExplanation(
  className: string,
  attributeNames: readonly string[],
  probabilities: ArrayLike<number>,
  signature: ArrayLike<number>,
  options: { threshold: number; count: number },
): string {
  const cited = attributeNames
    .map((name, k) => ({ name, p: probabilities[k], typical: signature[k] >= 0.5 }))
    .filter((a) => a.typical && a.p >= options.threshold)
    .sort((a, b) => b.p - a.p)
    .slice(0, options.count);
  if (cited.length === 0) return `predicted ${className}, but none of the attributes typical of ${className} is predicted`;
  const list = cited.map((a) => `${a.name} (${a.p.toFixed(2)})`);
  const joined = list.length === 1 ? list[0] : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
  return `predicted ${className} because it has ${joined}`;
}
