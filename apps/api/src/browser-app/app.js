// The browser client of the API, served at /app: no build step, no dependencies.
// - The API key stays in this tab (sessionStorage) and goes out only as `Authorization`.
// - The answer streams over EventSource from the `events` link of the submit reply, which
//   carries a short-lived signed stream token (EventSource cannot send headers). A dropped
//   connection is resumed by the browser with `Last-Event-ID`; an expired token is replaced by
//   GETting the query again, and the stream resumes from the last event seen (`last_event_id`).
//   Every event id is applied once, so no token is lost or repeated.

const $ = (id) => document.getElementById(id);
const state = { key: sessionStorage.getItem('assistant-api-key') ?? '', stream: undefined };

function show(id, text) {
  $(id).textContent = text;
}

/** Seconds to wait, from a 429's `Retry-After`. */
function retryAfter(res) {
  const value = res.headers.get('retry-after');
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

class ApiError extends Error {
  constructor(status, code, message, retryAfterSeconds) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${state.key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const error = json.error ?? {};
    throw new ApiError(
      res.status,
      error.code ?? `http_${res.status}`,
      error.message ?? res.statusText,
      retryAfter(res),
    );
  }
  return { status: res.status, body: json };
}

let countdown;
function showError(error) {
  clearInterval(countdown);
  if (!(error instanceof ApiError)) return show('error', String(error.message ?? error));
  if (error.status === 429 && error.retryAfterSeconds !== undefined) {
    let left = error.retryAfterSeconds;
    const render = () => show('error', `Rate-limited (${error.code}): ${error.message} Retry in ${left} s.`);
    render();
    $('error').dataset.retryAfter = String(left);
    countdown = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(countdown);
        return show('error', 'You can ask again now.');
      }
      render();
    }, 1000);
    return;
  }
  show('error', `${error.message} (${error.code})`);
}

async function useKey(key) {
  state.key = key;
  try {
    const me = (await api('GET', '/v1/me')).body;
    sessionStorage.setItem('assistant-api-key', key);
    show('whoami', `Signed in as ${me.user_id} (${me.tier} tier)`);
    show('error', '');
    await listNotes();
  } catch (error) {
    sessionStorage.removeItem('assistant-api-key');
    show('whoami', 'Not signed in');
    showError(error);
  }
}

async function listNotes() {
  const { body } = await api('GET', '/v1/notes?limit=100');
  const list = $('notes');
  list.replaceChildren(
    ...body.data.map((note) => {
      const item = document.createElement('li');
      item.dataset.id = note.id;
      const title = document.createElement('strong');
      title.textContent = note.title;
      const status = document.createElement('span');
      status.className = 'state';
      status.textContent = ` ${note.index_status}${note.tags.length ? ` · #${note.tags.join(' #')}` : ''}`;
      item.append(title, status);
      return item;
    }),
  );
}

function renderSources(sources) {
  $('sources').replaceChildren(
    ...sources.map((source) => {
      const item = document.createElement('li');
      item.textContent = `${source.title} (score ${source.score.toFixed(2)})`;
      item.dataset.noteId = source.note_id;
      return item;
    }),
  );
}

/** Follows one query's events until `done` or `error`, across reconnects and token renewals. */
function follow(queryId, eventsLink) {
  state.stream?.close();
  const seen = new Set();
  let lastEventId;
  let text = '';
  let ended = false;
  const answer = $('answer');
  answer.dataset.queryId = queryId;
  answer.dataset.events = '0';
  answer.dataset.reconnects = '0';
  answer.dataset.renewals = '0';

  const apply = (message, handle) => {
    // Replays after a reconnect never repeat an event: each id is applied once.
    if (message.lastEventId && seen.has(message.lastEventId)) return;
    if (message.lastEventId) {
      seen.add(message.lastEventId);
      lastEventId = message.lastEventId;
    }
    answer.dataset.events = String(seen.size);
    handle(JSON.parse(message.data));
  };

  function open(link) {
    const source = new EventSource(link);
    state.stream = source;
    source.addEventListener('open', () => show('status', 'Streaming…'));
    source.addEventListener('started', (m) => apply(m, () => show('status', 'Answering…')));
    source.addEventListener('sources', (m) => apply(m, (e) => renderSources(e.sources)));
    source.addEventListener('token', (m) =>
      apply(m, (e) => {
        text += e.text;
        answer.textContent = text;
      }),
    );
    source.addEventListener('restart', (m) =>
      apply(m, (e) => {
        text = '';
        answer.textContent = '';
        show('status', `The answer starts again (${e.reason})…`);
      }),
    );
    source.addEventListener('done', (m) =>
      apply(m, (e) => {
        ended = true;
        source.close();
        // The streamed text is the answer; only a stream that carried no token shows the stored one.
        if (!text) answer.textContent = e.result.answer;
        renderSources(e.result.sources);
        answer.dataset.done = 'true';
        show('status', `Done (${e.result.model}).`);
      }),
    );
    source.addEventListener('error', (m) => {
      // An `error` event from the server carries data; a connection error does not.
      if (m.data) {
        return apply(m, (e) => {
          ended = true;
          source.close();
          answer.dataset.done = 'true';
          show('status', '');
          show('error', `The question failed: ${e.error.message} (${e.error.code})`);
        });
      }
      if (ended) return;
      answer.dataset.reconnects = String(Number(answer.dataset.reconnects) + 1);
      if (source.readyState === EventSource.CONNECTING) {
        show('status', 'Connection lost, reconnecting…');
        return;
      }
      // Closed for good (the token expired, or the server refused): a fresh link, then resume.
      show('status', 'Reconnecting with a fresh link…');
      setTimeout(() => renew().catch(showError), 1000);
    });
  }

  async function renew() {
    if (ended) return;
    answer.dataset.renewals = String(Number(answer.dataset.renewals) + 1);
    const view = (await api('GET', `/v1/queries/${queryId}`)).body;
    const resume = lastEventId ? `&last_event_id=${encodeURIComponent(lastEventId)}` : '';
    open(`${view.links.events}${resume}`);
  }

  open(eventsLink);
}

async function ask(question) {
  show('error', '');
  show('status', 'Sending…');
  $('answer').textContent = '';
  delete $('answer').dataset.done;
  $('sources').replaceChildren();
  try {
    const { status, body } = await api('POST', '/v1/queries', { query: question });
    if (status === 200) {
      $('answer').textContent = body.answer ?? '';
      $('answer').dataset.done = 'true';
      renderSources(body.sources);
      show('status', 'Answered from the cache.');
      return;
    }
    show('status', 'Queued…');
    follow(body.id, body.links.events);
  } catch (error) {
    show('status', '');
    showError(error);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('key-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void useKey($('api-key').value.trim());
  });
  $('forget-key').addEventListener('click', () => {
    sessionStorage.removeItem('assistant-api-key');
    state.key = '';
    $('api-key').value = '';
    show('whoami', 'Not signed in');
    $('notes').replaceChildren();
  });
  $('ask-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void ask($('question').value.trim());
  });
  $('note-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const tags = $('note-tags')
      .value.split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    try {
      await api('POST', '/v1/notes', { title: $('note-title').value, body: $('note-body').value, tags });
      $('note-form').reset();
      show('error', '');
      await listNotes();
    } catch (error) {
      showError(error);
    }
  });
  $('refresh-notes').addEventListener('click', () => listNotes().catch(showError));
  if (state.key) {
    $('api-key').value = state.key;
    void useKey(state.key);
  } else {
    show('whoami', 'Not signed in: paste an API key.');
  }
});
