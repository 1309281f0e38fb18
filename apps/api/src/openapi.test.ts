import { describe, expect, it } from 'vitest';
import { buildOpenApi, renderDocsPage } from './openapi.ts';

describe('the OpenAPI document', () => {
  const doc = buildOpenApi();

  it('describes the submit body from the same schema the route validates with', () => {
    const schema = doc.paths['/v1/queries'].post.requestBody.content['application/json']
      .schema as unknown as {
      properties: { query: { type: string; maxLength: number } };
      required: string[];
      additionalProperties: boolean;
    };
    expect(schema.properties.query).toMatchObject({ type: 'string', maxLength: 4000 });
    expect(schema.required).toEqual(['query']);
    expect(schema.additionalProperties).toBe(false);
  });

  it('lists every event type of the SSE stream', () => {
    const text = JSON.stringify(doc.components.schemas.QueryEvent);
    for (const type of ['queued', 'started', 'sources', 'token', 'restart', 'done', 'error'])
      expect(text).toContain(`"${type}"`);
  });

  it('describes the admin key routes, and a key listing never carries the key', () => {
    expect(Object.keys(doc.paths['/v1/admin/users/{id}/keys'])).toEqual(['post', 'get']);
    const listing = JSON.stringify(doc.paths['/v1/admin/users/{id}/keys'].get.responses['200']);
    expect(listing).toContain('"revoked_at"');
    expect(listing).not.toContain('api_key');
    expect(doc.paths['/v1/admin/keys/{id}'].delete.responses['200'].content).toBeDefined();
  });

  it('renders a docs page that links the document and escapes text', () => {
    const html = renderDocsPage(doc);
    expect(html).toContain('href="/openapi.json"');
    expect(html).toContain('<code>/v1/notes/{id}</code>');
  });
});
