// The console's only way to data: the GraphQL API, over HTTP (`/graphql`) and over WebSocket
// (`/graphql/ws`, the graphql-transport-ws protocol). The token lives in sessionStorage: it is
// gone when the tab closes and is never written to localStorage, a cookie or a URL.

const TOKEN_KEY = 'syncledger.console.token';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** An answer that carried errors; `code` is the API's `extensions.code`. */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code || 'INTERNAL';
  }
}

/** Runs one query or mutation; resolves to `data`, or rejects with the first error. */
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${session.token || ''}`,
      },
      body: JSON.stringify({ query, variables }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (err) {
    throw new ApiError('The server could not be reached.', 'NETWORK');
  }
  let body;
  try {
    body = await response.json();
  } catch (err) {
    throw new ApiError(`The server answered ${response.status} without a GraphQL body.`, 'INTERNAL');
  }
  const first = body.errors && body.errors[0];
  if (first) {
    throw new ApiError(first.message, first.extensions && first.extensions.code);
  }
  return body.data;
}

/**
 * A subscription over graphql-transport-ws that reconnects after a drop. `variables()` is asked
 * again at each (re)connection, so a caller can resume after the last event it saw. `onStatus`
 * hears `connecting`, `live`, `retrying` and `closed`.
 */
export function subscribe(query, variables, { onNext, onError, onStatus }) {
  let socket = null;
  let stopped = false;
  let attempt = 0;
  let timer = null;

  const connect = () => {
    onStatus('connecting');
    const url = new URL('/graphql/ws', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(url, 'graphql-transport-ws');
    socket.addEventListener('open', () => {
      socket.send(JSON.stringify({
        type: 'connection_init',
        payload: { Authorization: `Bearer ${session.token || ''}` },
      }));
    });
    socket.addEventListener('message', (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      if (frame.type === 'connection_ack') {
        attempt = 0;
        onStatus('live');
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables: variables() } }));
      } else if (frame.type === 'next' && frame.payload) {
        if (frame.payload.errors) onError(new ApiError(frame.payload.errors[0].message));
        if (frame.payload.data) onNext(frame.payload.data);
      } else if (frame.type === 'error') {
        const first = Array.isArray(frame.payload) ? frame.payload[0] : frame.payload;
        onError(new ApiError(first ? first.message : 'subscription error', first && first.extensions && first.extensions.code));
      } else if (frame.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      }
    });
    socket.addEventListener('close', (event) => {
      if (stopped) return;
      if (event.code === 4403 || event.code === 4401) {
        onStatus('closed');
        onError(new ApiError('The server refused this token for live updates.', 'UNAUTHENTICATED'));
        return;
      }
      attempt += 1;
      const delay = Math.min(15000, 500 * 2 ** Math.min(attempt, 5));
      onStatus('retrying', delay);
      timer = setTimeout(connect, delay);
    });
  };

  connect();
  return {
    close() {
      stopped = true;
      clearTimeout(timer);
      if (socket) socket.close(1000, 'page left');
      onStatus('closed');
    },
  };
}

/** The fields every event view shows. */
export const EVENT_FIELDS = `
  position sequence type recordedAt eventId causationId correlationId entityId tenant
  explanation reason payload`;
