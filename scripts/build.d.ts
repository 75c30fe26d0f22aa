/** Types of scripts/build.js for the tests that build the bundle. */
export function build(options?: { outdir?: string; quiet?: boolean }): Promise<void>;
