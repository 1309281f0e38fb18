/** Turns texts into unit-length vectors (the batching ONNX embedder in production). */
export type Embedder = { embed(texts: string[]): Promise<Float32Array[]> };

/** Embeds the question; one vector. */
export async function embedQuery(embedder: Embedder, query: string): Promise<Float32Array> {
  const [vector] = await embedder.embed([query]);
  if (!vector) throw new Error('embedder returned no vector');
  return vector;
}
