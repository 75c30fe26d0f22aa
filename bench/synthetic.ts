/** Named synthetic model shapes for the benches (written once into the synthetic cache). */
import { ggmlTypes } from '../src/engine/gguf/types.ts';
import { syntheticLlamaFile } from '../test/helpers/synthetic.ts';

const shapes = {
  // ~110M parameters: 12 layers of 768 with GQA, a 32k vocabulary
  '100m': { embd: 768, layers: 12, heads: 12, kvHeads: 4, ff: 2048, vocab: 32000, ctx: 2048 },
  // ~1B parameters (issue: threads bench)
  '1b': { embd: 2048, layers: 16, heads: 16, kvHeads: 8, ff: 5632, vocab: 32000, ctx: 2048 },
  tiny: { embd: 256, layers: 4, heads: 4, kvHeads: 2, ff: 768, vocab: 1024, ctx: 512 },
} as const;

export async function syntheticBenchModel(typeName: string, size: string): Promise<string> {
  const type = ggmlTypes.find((t) => t.name.toLowerCase() === typeName.toLowerCase());
  if (!type || !type.supported) throw new Error(`unknown weight type '${typeName}'`);
  const shape = shapes[size as keyof typeof shapes];
  if (!shape) throw new Error(`unknown size '${size}' (one of ${Object.keys(shapes).join(', ')})`);
  return syntheticLlamaFile({ ...shape, type: type.id, seed: 7 });
}
