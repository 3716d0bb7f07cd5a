/**
 * EAT's textual explanation of one image: the predicted class and the predicted attributes that
 * belong to that class. An attribute belongs to a class when at least half of the class's
 * training images have it (its "signature"); among those, the ones predicted with probability >=
 * `threshold` are cited, most probable first, at most `count`.
 */
/** The attributes a textual explanation cites (indices, most probable first): see textualExplanation. */
export function citedAttributes(probabilities: ArrayLike<number>, signature: ArrayLike<number>, options: { threshold: number; count: number }): number[] {
  return Array.from({ length: probabilities.length }, (_, k) => k)
    .filter((k) => signature[k] >= 0.5 && probabilities[k] >= options.threshold)
    .sort((a, b) => probabilities[b] - probabilities[a])
    .slice(0, options.count);
}

export function textualExplanation(
  className: string,
  attributeNames: readonly string[],
  probabilities: ArrayLike<number>,
  signature: ArrayLike<number>,
  options: { threshold: number; count: number },
): string {
  const cited = citedAttributes(probabilities, signature, options).map((k) => ({ name: attributeNames[k], p: probabilities[k] }));
  if (cited.length === 0) return `predicted ${className}, but none of the attributes typical of ${className} is predicted`;
  const list = cited.map((a) => `${a.name} (${a.p.toFixed(2)})`);
  const joined = list.length === 1 ? list[0] : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
  return `predicted ${className} because it has ${joined}`;
}
