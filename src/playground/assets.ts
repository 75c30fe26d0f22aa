/**
 * The playground page, as the route serves it. In the bundles this module is replaced at build time by the built
 * strings (build.js's esbuild plugin), so the worker carries the page inside itself and reads nothing at run time;
 * only from source (tsx: tests, dev) does this body run and build the page once, on first use.
 */

export interface PlaygroundFile {
  /** Content-Type header. */
  type: string;
  body: string;
}

export interface PlaygroundAssets {
  /** The page served at `/`; it links its assets as `/playground/<name>`. */
  html: string;
  /** By served name (content-hashed, e.g. `app-3f2a….js`). */
  files: Record<string, PlaygroundFile>;
}

let built: Promise<PlaygroundAssets> | undefined;

export function playgroundAssets(): Promise<PlaygroundAssets> {
  built ??= import('./build.js')
    .then((m) => m.buildPlayground())
    .catch((err: Error) => {
      built = undefined; // a fixed source builds on the next request
      throw err;
    });
  return built;
}
