/**
 * Pure: the environment a process gets from process.env, as runc hands it over: a variable
 * set more than once keeps its last value (at its first place), and an empty HOME counts as
 * unset, so that the stage fills it from the container's /etc/passwd.
 */
export function processEnvironment(entries: readonly string[]): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  for (const entry of entries) {
    const equals = entry.indexOf('=');
    const name = equals < 0 ? entry : entry.slice(0, equals);
    if (!values.has(name)) order.push(name);
    values.set(name, entry);
  }
  return order.map((name) => values.get(name)!).filter((entry) => entry !== 'HOME=');
}
