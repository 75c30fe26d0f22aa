/** Types of src/playground/build.js (plain JS: scripts/build.js imports it under bare Node). */
import type { PlaygroundAssets } from './assets.ts';

export function buildPlayground(): Promise<PlaygroundAssets>;
export function playgroundPlugin(): { name: string; setup(build: unknown): void };
