import type { AnswerCache, AnswerSettings, CacheEpochs } from '@assistant/cache';
import type { NotesRepo } from '@assistant/db';
import { type GenerateResult, llmProviderNameOf } from '@assistant/llm';

/** Collaborators of {@link createCachedGeneration}. */
export type CachedGenerationDeps = {
  answerCache: Pick<AnswerCache, 'get'>;
  notes: Pick<NotesRepo, 'versions'>;
  settings: { provider: string; model: string; prompt: string };
};

/**
 * The fallback chain's cache step: the same question answered earlier, while its evidence is
 * still current, as a generation result (no tokens spent). A stored provider name no provider
 * has any more is a miss.
 */
export function createCachedGeneration(deps: CachedGenerationDeps) {
  return async function cachedGeneration(lookup: {
    state: Awaited<ReturnType<CacheEpochs['readCacheState']>>;
    query: string;
    /** The question's own settings (its variant, its routing); default: the process's. */
    settings?: AnswerSettings;
  }): Promise<GenerateResult | undefined> {
    const { state, query } = lookup;
    const hit = await deps.answerCache.get({
      state,
      query,
      settings: lookup.settings ?? deps.settings,
      currentVersions: (ids) => deps.notes.versions(state.userId, ids),
    });
    const provider = hit && llmProviderNameOf(hit.provider);
    if (!hit || !provider) return undefined;
    return {
      text: hit.answer,
      provider,
      model: hit.model,
      usage: { promptTokens: 0, completionTokens: 0 },
      finishReason: 'stop',
      truncated: hit.truncated,
    };
  };
}
