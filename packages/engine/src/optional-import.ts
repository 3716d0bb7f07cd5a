/** An optional package that is not installed (as opposed to one that is there but fails to load). */
export class NotInstalledError extends Error {
  constructor(readonly packageName: string) {
    super(`${packageName} is not installed`);
  }
}

/**
 * Imports an optional package (tfjs-node, the WebGPU packages, a head) by a variable specifier,
 * so it may be absent at typecheck and install time. Its absence is a NotInstalledError; any
 * other failure (a broken install, a native library missing) is rethrown as it is.
 */
export async function importOptional<T = unknown>(packageName: string): Promise<T> {
  try {
    const specifier: string = packageName;
    return (await import(specifier)) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String(error).includes(packageName)) {
      throw new NotInstalledError(packageName);
    }
    throw error;
  }
}
